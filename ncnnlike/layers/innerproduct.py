"""InnerProduct (spec 3): params, .bin buffers, float lowering to ONNX Gemm / MatMul."""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers import conv_params
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "InnerProduct"

# ModelWriter order: 0 1 2 8 9 [-23310]
PARAMS = (
    Param(0, "num_output", 0),
    Param(1, "bias_term", 0),
    Param(2, "weight_data_size", 0),
    Param(8, "int8_scale_term", 0),
    Param(9, "activation_type", 0),
    Param(10, "activation_params", []),
)


def weights(p):
    """weight (tagged), bias, then int8 scales: weight per output row, bottom 1; never a top scale."""
    scales = p.num_output if p.int8_scale_term else None
    return conv_params.weight_and_bias(p) + conv_params.int8_scales(scales, top=False)


def out_shape(in_shape, num_output, num_input):
    """ncnn's output shape: a 2-D bottom with w == num_input is a batch of rows, else flattened to 1-D."""
    if len(in_shape) == 2 and in_shape[1] == num_input:
        return (in_shape[0], num_output)
    return (num_output,)


def lower(layer, p, ctx):
    """y = x . W^T + b, then the fused activation (innerproduct.cpp forward)."""
    import numpy as np   # here, not at the top: model-optimize reads this module's params without numpy
    from ncnnlike.layers.activation import lower_fused
    from ncnnlike.layers.int8 import lower_int8, runs_int8
    if runs_int8(layer, p, ctx):   # float weights + scales run as float when int8 is off
        return lower_int8(layer, p, ctx)
    if p.num_output <= 0 or p.weight_data_size % p.num_output:
        raise NcnnlikeError("layer %s (InnerProduct): weight_data_size %d is not a multiple of num_output %d"
                            % (layer.name, p.weight_data_size, p.num_output))
    num_input = p.weight_data_size // p.num_output
    in_shape = ctx.in_shape(layer)
    shape = out_shape(in_shape, p.num_output, num_input)
    if len(shape) == 1 and int(np.prod(in_shape)) != num_input:
        raise NcnnlikeError("layer %s (InnerProduct): bottom shape %s has %d elements, weights expect %d"
                            % (layer.name, in_shape, int(np.prod(in_shape)), num_input))
    w = layer.weight("weight_data").reshape(p.num_output, num_input)
    x = ctx.bottom(layer)
    if len(shape) == 2:
        y = ctx.op("MatMul", [x, ctx.const(np.ascontiguousarray(w.T), layer.name + "_w")])
        if p.bias_term:
            y = ctx.op("Add", [y, ctx.const(layer.weight("bias_data"), layer.name + "_b")])
    else:
        if len(in_shape) != 1:
            x = ctx.op("Flatten", [x], axis=1)
        inputs = [x, ctx.const(w, layer.name + "_w")]
        if p.bias_term:
            inputs.append(ctx.const(layer.weight("bias_data"), layer.name + "_b"))
        y = ctx.op("Gemm", inputs, transB=1)
    y = lower_fused(ctx, y, p.activation_type, p.activation_params)
    ctx.top(layer, 0, y, shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.positive(p, "num_output")
    checks.multiple(p, "weight_data_size", p.num_output, "num_output")
    checks.activation(p)
    checks.at_least(p, 0, "int8_scale_term")
