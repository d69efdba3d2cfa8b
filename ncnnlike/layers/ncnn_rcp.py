"""The reciprocal estimate pip ncnn's packed x86 int8 depthwise kernel computes, read from pip ncnn.

ncnn's ConvolutionDepthWise int8 forward for elempack 8 (src/layer/x86/convolutiondepthwise_x86.cpp)
takes scale_in = _mm_rcp_ps(bottom_scale * weight_scale[c]): the CPU's 12-bit reciprocal estimate,
which differs between CPUs (AMD and Intel). To reproduce it, it is read from pip ncnn running that
very kernel, not from machine code of ours: no executable memory is ever mapped (W^X-safe). A 1x1
depthwise layer with 8k channels, int8 weights 1, weight scales d[c], bottom scale 1 and no bias,
fed x = 1 (so q = 1 and acc = 1), outputs float(1) * rcp(d[c]) = rcp(d[c]) for every channel: one
run of pip ncnn gives any number of values.
"""
import numpy as np

PACK = 8                 # the kernel runs on channels packed by 8
TAG_INT8 = 0x000D4B38    # .bin tag of int8 weights (spec 2.2)


def model(d):
    """(param text, bin bytes) of the probe layer for the padded weight scales `d` (float32, len % 8 == 0)."""
    c = d.size
    param = ("7767517\n2 2\nInput in 0 1 x 0=1 1=1 2=%d\n"
             "ConvolutionDepthWise dw 1 1 x y 0=%d 1=1 6=%d 7=%d 8=1\n" % (c, c, c, c))
    weights = np.ones(c, np.int8).tobytes() + b"\0" * (-c % 4)
    binary = TAG_INT8.to_bytes(4, "little") + weights + d.astype("<f4").tobytes() + np.float32(1).tobytes()
    return param, binary


def rcp(values):
    """rcp(v) as pip ncnn's packed depthwise kernel computes it, for positive normal float32 `values`
    (an array, or a scalar -> float); raises ImportError without pip ncnn. The probe model goes
    through files: pip ncnn's load_model_mem references a temporary copy of the bytes."""
    import ncnn
    from ncnnlike.runtime.ncnn_backend import load_pair, plain_net
    flat = np.asarray(values, np.float32).reshape(-1)
    d = np.ones(max(PACK, -(-flat.size // PACK) * PACK), np.float32)
    d[:flat.size] = flat
    param, binary = model(d)
    net = plain_net(ncnn)
    net.opt.use_packing_layout = True
    net.opt.use_int8_inference = True
    if not load_pair(net, param, binary, "ncnnlike-rcp-"):
        raise RuntimeError("pip ncnn refused the rcp probe model")
    ex = net.create_extractor()
    # ncnn.Mat(array) wraps the array's memory without keeping it alive: hold it until the clone is made
    ones = np.ones((d.size, 1, 1), np.float32)
    ex.input("x", ncnn.Mat(ones).clone())
    ret, out = ex.extract("y")
    if ret != 0:
        raise RuntimeError("pip ncnn could not run the rcp probe model (status %d)" % ret)
    result = np.array(out, np.float32).reshape(-1)[:flat.size].copy()
    return result.reshape(np.shape(values)) if np.ndim(values) else float(result[0])
