"""ncnn model files: .param text (param.py), .bin weights (bin.py), both together (model.py)."""
