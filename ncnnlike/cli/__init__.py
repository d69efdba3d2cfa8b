"""Console scripts, one module each; argument syntax exactly ncnn's (positional files, then key=value)."""
