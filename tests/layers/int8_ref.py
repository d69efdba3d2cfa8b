"""numpy references for the standalone int8 layers (Quantize, Dequantize, Requantize): ncnn's x86
float2int8 (spec 7.2) and per-row / per-channel broadcasting of their scale and bias buffers."""
import numpy as np


def float2int8(x):
    """clamp(trunc(x + copysign(0.5, x)), -127, 127) in float32, as float."""
    x = np.asarray(x, np.float32)
    return np.clip(np.trunc(x + np.copysign(np.float32(0.5), x)), -127, 127)


def outer(values, shape):
    """One value for the blob, or one per row (2-D) / channel (3-D/4-D); a 1-D blob takes element 0."""
    values = np.asarray(values, np.float32).ravel()
    if values.size == 1 or len(shape) == 1:
        return values[0]
    return values.reshape((-1,) + (1,) * (len(shape) - 1))


def fma(x, scale, bias):
    """fma(x, scale, bias) rounded once to float32, as ncnn's x86 Dequantize / Requantize."""
    return (np.asarray(x, np.float64) * np.asarray(scale, np.float64) + np.asarray(bias, np.float64)).astype(np.float32)
