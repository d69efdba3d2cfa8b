"""int8 execution of Convolution, ConvolutionDepthWise and InnerProduct (spec 3, 7, 8; DESIGN "int8 execution").

A layer runs int8 when int8_scale_term != 0 and ctx.int8 (net.opt.use_int8_inference) is set. Its
weights are int8 as stored, or float weights quantized here as ncnn's load_model does (spec 3, 7.2).
ncnn's maths (spec 8): q_in = clamp(round_half_away(x*s_in), +-127) (an int8 bottom is used as is);
padding after quantization with (int8)pad_value; int32 accumulation; v = acc*scale_in[c] + bias with
scale_in = 0 if w_scale == 0 else 1/(s_in*w_scale[c]); fused activation; then, when
int8_scale_term > 100, requantize q = clamp(round_half_away(v*s_top), +-127) and the top is int8
(carried as uint8 q+128 and bound with quant=s_top), else the top is float.

The arithmetic is that of ncnn's x86 kernels (what pip ncnn runs here), measured layer by layer on
Lite0 against pip ncnn: Convolution (and grouped, non-depthwise ConvolutionDepthWise, which ncnn
runs as one Convolution per group) computes v = fma(acc, scale_in, bias) (one rounding);
InnerProduct and depthwise acc*scale_in then + bias (two roundings); depthwise with channels % 8 == 0
(ncnn's packed x86 kernel) takes scale_in = _mm_rcp_ps(s_in*w_scale), the CPU's 12-bit reciprocal
(x86_rcp below reads it from pip ncnn running that kernel; without it, 1/x as ncnn's other kernels).

Modes (net.opt.use_int8_inference; runtime/net.py):
  True / "fast"  the default: int8_fast.py, onnxruntime's integer kernels on uint8 activations with
                 zero point 128 (its policy, deviation from ncnn and measured speed are in its docstring);
  "sim"          int8_sim.py: ncnn's int8 arithmetic with float ops on integer values, bit-exact with
                 pip ncnn layer by layer (the fast lowering also uses it where no integer kernel is
                 exact or fast: grouped convolutions with float tops);
  "exact"        pip ncnn runs the model itself (runtime/ncnn_backend.py): ncnn's answers exactly,
                 fast-math float layers included. A graph lowered in this mode gets int8_sim.
With use_int8_inference off, pip ncnn cannot run int8 weights (it reads them as float and crashes);
here stored-int8 layers run as a float view, weights w_q / w_scale[c]; float weights with scales run
as plain float.
"""
import functools
import platform
from dataclasses import dataclass

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.activation import lower_fused
from ncnnlike.layers.base import layer_module, resolve
from ncnnlike.layers.lowering import DOUBLE, FLOAT

EXACT = "exact"
FAST = "fast"
SIM = "sim"


def float2int8(x):
    """ncnn's x86 float2int8 on float32 (spec 7.2): clamp(trunc(x + copysign(0.5, x)), -127, 127)."""
    x = np.asarray(x, dtype=np.float32)
    return np.clip(np.trunc(x + np.copysign(np.float32(0.5), x)), -127, 127).astype(np.int8)


@dataclass
class Int8Layer:
    """What the int8 lowerings need of one layer, resolved as ncnn's load_model does."""
    name: str
    kind: str               # "conv" (Convolution / ConvolutionDepthWise) or "ip" (InnerProduct)
    weight: np.ndarray      # int8: conv (outc, inc/group, kh, kw); ip (num_output, num_input)
    scale_in: np.ndarray    # float32 (outc,): 1/(s_in*w_scale[c]), 0 where w_scale[c] == 0 (spec 8.4)
    w_scale: np.ndarray     # float32 (outc,): the weight scale of each output channel
    s_in: np.float32
    s_top: object           # np.float32, or None when the top is float
    bias: object            # float32 (outc,) or None
    activation_type: int
    activation_params: list
    group: int = 1
    fma: bool = False       # v = fma(acc, scale_in, bias) as ncnn's x86 Convolution, else mul then add

    @property
    def num_output(self):
        return self.weight.shape[0]


@functools.lru_cache(maxsize=None)
def x86_rcp():
    """The reciprocal estimate of ncnn's packed x86 depthwise kernel (_mm_rcp_ps) as a function of a
    float32 array (or scalar), or None off x86-64 or without pip ncnn. Its results are CPU-specific
    (AMD and Intel differ), so they are read from pip ncnn running that kernel (ncnn_rcp.py): no
    executable memory is mapped."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    from ncnnlike.layers import ncnn_rcp
    try:
        return ncnn_rcp.rcp if abs(ncnn_rcp.rcp(3.0) * 3.0 - 1.0) < 1e-3 else None
    except (ImportError, RuntimeError):
        return None


def scale_in_of(s_in, ws, packed_depthwise):
    """scale_in per output channel: 1/(s_in*w_scale), 0 where w_scale == 0 (spec 8.4); the CPU's
    rcp of s_in*w_scale for ncnn's packed x86 depthwise kernel."""
    denominator = (s_in * ws).astype(np.float32)
    rcp = x86_rcp() if packed_depthwise else None
    usable = (ws != 0) & np.isfinite(denominator) & (denominator > 0)
    with np.errstate(divide="ignore"):
        scale_in = np.float32(1) / denominator
    if rcp is not None and usable.any():
        scale_in[usable] = rcp(denominator[usable])
    return np.where(ws == 0, np.float32(0), scale_in).astype(np.float32)


def _where(layer):
    return "layer %s (%s)" % (layer.name, layer.type)


def _scales(layer, p, n_out):
    """Weight scale of each output channel, bottom and top scale (spec 3 .bin layouts)."""
    ws = np.atleast_1d(layer.weight("weight_data_int8_scales"))
    s_in = np.float32(layer.weight("bottom_blob_int8_scales").ravel()[0])
    requantize = p.int8_scale_term > 100 and layer.type != "InnerProduct"   # InnerProduct: always float
    s_top = np.float32(layer.weight("top_blob_int8_scales").ravel()[0]) if requantize else None
    if layer.type == "ConvolutionDepthWise":
        ws = np.repeat(np.broadcast_to(ws, (p.group,)), n_out // p.group)
    elif ws.size != n_out:
        raise NcnnlikeError("%s: %d weight scales for %d outputs" % (_where(layer), ws.size, n_out))
    return ws.astype(np.float32), s_in, s_top


def _int8_weights(layer, p, rows, ws_rows):
    """The int8 weights as rows (one per scale); float weights are quantized per row (spec 3, 7.2)."""
    w = layer.weights["weight_data"]
    if np.asarray(w).dtype == np.int8:
        return np.asarray(w).reshape(rows, -1)
    w = layer.weight("weight_data").reshape(rows, -1)
    return float2int8(w * ws_rows[:, None])


def _check(layer, p, in_shape):
    """The int8 terms and shapes ncnn's int8 forward accepts."""
    if layer.type == "ConvolutionDepthWise" and p.int8_scale_term not in (1, 2, 101, 102):
        raise NcnnlikeError("%s: int8_scale_term (8=) %d reads no scales; expected 1, 2, 101 or 102"
                            % (_where(layer), p.int8_scale_term))
    if getattr(p, "dynamic_weight", 0):
        raise NcnnlikeError("%s: dynamic_weight=1 cannot run int8" % _where(layer))
    if layer.type != "InnerProduct" and len(in_shape) != 3:
        raise NcnnlikeError("%s: int8 execution expects a 3-D (c, h, w) bottom, got shape %s"
                            % (_where(layer), in_shape))


def int8_layer(layer, p, in_shape):
    """Int8Layer of a Convolution / ConvolutionDepthWise / InnerProduct with int8_scale_term != 0."""
    _check(layer, p, in_shape)
    n_out = p.num_output
    group = getattr(p, "group", 1)
    ws, s_in, s_top = _scales(layer, p, n_out)
    if layer.type == "ConvolutionDepthWise":
        w = _int8_weights(layer, p, group, ws[::n_out // group])
    else:
        w = _int8_weights(layer, p, n_out, ws)
    if layer.type == "InnerProduct":
        w = w.reshape(n_out, -1)
    else:
        c = in_shape[0]
        if c % group or w.size != n_out * (c // group) * p.kernel_h * p.kernel_w:
            raise NcnnlikeError("%s: weight_data_size %d does not match %d outputs, %d inputs, group %d, kernel %dx%d"
                                % (_where(layer), w.size, n_out, c, group, p.kernel_h, p.kernel_w))
        w = w.reshape(n_out, c // group, p.kernel_h, p.kernel_w)
    depthwise = layer.type == "ConvolutionDepthWise" and group == n_out == in_shape[0]
    bias = layer.weight("bias_data") if p.bias_term else None
    return Int8Layer(layer.name, "ip" if layer.type == "InnerProduct" else "conv", w,
                     scale_in_of(s_in, ws, depthwise and n_out % 8 == 0), ws, s_in, s_top, bias,
                     int(p.activation_type), list(p.activation_params or []), group,
                     fma=layer.type != "InnerProduct" and not depthwise)


def pad_int8(p):
    """The int8 pad value: ncnn casts pad_value to int8 without scaling it (spec 8.2 QUIRK)."""
    return int(np.clip(np.trunc(p.pad_value), -128, 127))


def conv_geometry(p, in_shape):
    """(ONNX pads [top, left, bottom, right], ncnn top shape (c, h, w)), SAME modes resolved."""
    from ncnnlike.layers.convolution import pads_and_out
    pads, (out_h, out_w) = pads_and_out(p, in_shape[1], in_shape[2])
    return pads, (p.num_output, out_h, out_w)


def conv_attrs(p, group, pads):
    """Attributes shared by ONNX Conv, ConvInteger and QLinearConv."""
    return dict(group=group, kernel_shape=[p.kernel_h, p.kernel_w], dilations=[p.dilation_h, p.dilation_w],
                strides=[p.stride_h, p.stride_w], pads=list(pads))


def ip_shapes(L, in_shape):
    """(flatten?, top shape): a 2-D bottom with w == num_input is a batch of rows (spec 3 InnerProduct)."""
    from ncnnlike.layers.innerproduct import out_shape
    num_input = L.weight.shape[1]
    shape = out_shape(in_shape, L.num_output, num_input)
    if len(shape) == 1 and int(np.prod(in_shape)) != num_input:
        raise NcnnlikeError("layer %s (InnerProduct): bottom shape %s has %d elements, weights expect %d"
                            % (L.name, in_shape, int(np.prod(in_shape)), num_input))
    return len(shape) == 1 and len(in_shape) != 1, shape


def channel_shape(L, values):
    """Per output channel values shaped to broadcast against the layer's output (c, h, w) or (.., c)."""
    return values.reshape(-1, 1, 1) if L.kind == "conv" else values


def dequantize(ctx, acc, L, rank, fma=None):
    """int32 accumulator -> float v, then the activation (spec 8 steps 4-6): acc*scale_in + bias in
    two roundings (DequantizeLinear, Add), or as one fma (in float64, then rounded to float32)."""
    fma = L.fma if fma is None else fma
    if fma and L.bias is not None:
        v = ctx.op("Cast", [acc], to=DOUBLE)
        v = ctx.op("Mul", [v, ctx.const(channel_shape(L, L.scale_in), L.name + "_scale_in", np.float64)])
        v = ctx.op("Add", [v, ctx.const(channel_shape(L, L.bias), L.name + "_b", np.float64)])
        v = ctx.op("Cast", [v], to=FLOAT)
    else:
        axis = 1 if L.kind == "conv" else rank - 1
        v = ctx.op("DequantizeLinear", [acc, ctx.const(L.scale_in, L.name + "_scale_in")], axis=axis)
        if L.bias is not None:
            v = ctx.op("Add", [v, ctx.const(channel_shape(L, L.bias), L.name + "_b")])
    return lower_fused(ctx, v, L.activation_type, L.activation_params)


def lower_float_view(layer, L, ctx):
    """use_int8_inference off: run the layer's float lowering on weights w_q / w_scale[c]."""
    w = L.weight.reshape(L.num_output, -1).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(np.isfinite(L.w_scale[:, None]) & (L.w_scale[:, None] != 0), w / L.w_scale[:, None], 0)
    view = type(layer)(layer.type, layer.name, layer.bottoms, layer.tops, layer.params.copy(),
                       {"weight_data": w.astype(np.float32).ravel()})
    if L.bias is not None:
        view.weights["bias_data"] = L.bias
    view.params[8] = 0
    layer_module(layer.type).lower(view, resolve(view), ctx)


def lower_shapes_only(layer, p, ctx):
    """Shape inference: the float lowering of the same geometry, no weight arithmetic (vgg16's fc6
    as a float view would make 1.2 GB of temporaries only to be thrown away)."""
    _check(layer, p, ctx.in_shape(layer))
    view = type(layer)(layer.type, layer.name, layer.bottoms, layer.tops, layer.params.copy(), dict(layer.weights))
    view.params[8] = 0
    layer_module(layer.type).lower(view, resolve(view), ctx)


def runs_int8(layer, p, ctx):
    """Whether the int8 lowering handles the layer: int8_scale_term set, and use_int8_inference on or
    the weights stored int8 (float weights with scales run as plain float when it is off)."""
    stored_int8 = np.asarray(layer.weights.get("weight_data", np.zeros(0))).dtype == np.int8
    return bool(p.int8_scale_term) and bool(ctx.int8 or stored_int8)


def lower_int8(layer, p, ctx):
    """Lower an int8 layer: the fast kernels (ctx.int8 True or "fast"), the simulation of ncnn's
    arithmetic ("sim", and "exact" when a graph is lowered in that mode, which pip ncnn runs), or
    the float view (off)."""
    if getattr(ctx, "build", "onnx") == "shapes":
        return lower_shapes_only(layer, p, ctx)
    L = int8_layer(layer, p, ctx.in_shape(layer))
    if not ctx.int8:
        return lower_float_view(layer, L, ctx)
    from ncnnlike.layers import int8_fast, int8_sim
    module = int8_sim if ctx.int8 in (SIM, EXACT) else int8_fast
    if L.kind == "ip":
        return module.lower_innerproduct(ctx, layer, L)
    return module.lower_conv(ctx, layer, p, L)
