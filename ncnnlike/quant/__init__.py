"""Post-training int8 quantization: calibration inputs (images.py), statistics, methods, table, conversion."""
