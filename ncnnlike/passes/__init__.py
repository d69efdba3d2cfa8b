"""model-optimize passes: `optimize(graph, log)` runs them in ncnnoptimize's order (spec 4.3).

Each pass is `pass(graph, log=None) -> int` (rewrites applied), in the module of its family;
`log` is called with one ncnnoptimize-style line per rewrite (`fuse_convolution_batchnorm conv1 bn1`).
Our exporter patterns (x*sigmoid(x) -> Swish, x*hardsigmoid(x) -> HardSwish) run right before
activation fusion, so a HardSwish they make can still be fused into a convolution.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.stored import dtype_name, stored_items
from ncnnlike.layers.base import schema
from ncnnlike.passes import eliminate, fuse_activation, fuse_batchnorm, fuse_binaryop, replace
from ncnnlike.passes.fuse_exporter_patterns import fuse_hardswish, fuse_swish
from ncnnlike.passes.shape_inference import shape_inference

PASSES = (
    fuse_batchnorm.fuse_batchnorm_scale,
    fuse_batchnorm.fuse_convolution_batchnorm,
    fuse_binaryop.fuse_convolution_mul,
    fuse_binaryop.fuse_convolution_add,
    fuse_batchnorm.fuse_convolutiondepthwise_batchnorm,
    fuse_binaryop.fuse_convolutiondepthwise_mul,
    fuse_binaryop.fuse_convolutiondepthwise_add,
    fuse_batchnorm.fuse_deconvolution_batchnorm,
    fuse_binaryop.fuse_deconvolution_mul,
    fuse_binaryop.fuse_deconvolution_add,
    fuse_batchnorm.fuse_deconvolutiondepthwise_batchnorm,
    fuse_batchnorm.fuse_innerproduct_batchnorm,
    fuse_binaryop.fuse_innerproduct_add,
    fuse_binaryop.fuse_innerproduct_dropout,
    replace.replace_reduction_with_global_pooling,
    replace.replace_prelu_with_leaky_relu,
    fuse_swish,
    fuse_hardswish,
    fuse_activation.fuse_convolution_activation,
    fuse_activation.fuse_convolutiondepthwise_activation,
    fuse_activation.fuse_deconvolution_activation,
    fuse_activation.fuse_deconvolutiondepthwise_activation,
    fuse_activation.fuse_innerproduct_activation,
    fuse_binaryop.fuse_memorydata_binaryop,
    fuse_binaryop.fuse_binaryop_eltwise,
    eliminate.eliminate_dropout,
    eliminate.eliminate_pooling1x1,
    eliminate.eliminate_noop,
    eliminate.eliminate_split,
    eliminate.eliminate_flatten_after_global_pooling,
    eliminate.eliminate_reshape_after_global_pooling,
    eliminate.eliminate_reshape_before_binaryop,
    replace.replace_convolution_with_innerproduct_after_global_pooling,
    replace.replace_convolution_with_innerproduct_after_innerproduct,
    eliminate.eliminate_flatten_after_innerproduct,
    eliminate.eliminate_orphaned_memorydata,
)

INT8_PARAM_NAMES = ("int8_scale_term", "quantize_term")


def check_float(graph):
    """Refuse an int8 model (spec 4.1: the fusions do float maths on the weights; optimize the fp32
    model, then quantize it)."""
    for layer in graph.layers:
        for name, values in stored_items(layer.weights):   # their dtypes, without reading them
            if dtype_name(values) == "int8":
                raise NcnnlikeError("layer %s (%s): weight %s is stored as int8; model-optimize works on "
                                    "fp32 models only (optimize before model2int8)" % (layer.name, layer.type, name))
        for param in schema(layer.type):
            if param.name in INT8_PARAM_NAMES and layer.params.get(param.id, 0) != 0:
                raise NcnnlikeError("layer %s (%s): %s=%s marks an int8 model; model-optimize works on fp32 "
                                    "models only (optimize before model2int8)"
                                    % (layer.name, layer.type, param.name, layer.params[param.id]))


OUR_PASSES = (fuse_swish, fuse_hardswish)   # not in ncnnoptimize


def optimize(graph, log=None, ncnn_only=False):
    """Run every pass in order on `graph` (in place), then shape inference; returns the rewrite
    lines (also sent to `log`). ncnn_only skips our own passes, for parity with ncnnoptimize."""
    check_float(graph)
    rewrites = []

    def record(line):
        rewrites.append(line)
        if log is not None:
            log(line)

    for run in PASSES:
        if not (ncnn_only and run in OUR_PASSES):
            run(graph, record)
    shape_inference(graph, log)
    return rewrites
