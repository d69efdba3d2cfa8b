"""The param schemas and .bin buffers the convolution family shares (Convolution, Deconvolution and
their 1-D / 3-D / DepthWise types, DeformableConv2D, Fold, Unfold; InnerProduct's buffers), so that
each type module states only what differs.

Every schema is in ModelWriter order (modelwriter.h): 0=num_output, the window (window_params.py:
kernel 1/11/21, dilation 2/12/22, stride 3/13/23, pads 4/14/24 and 15/16/17), what the type adds
(18=pad_value, or the deconvolutions' output pads and sizes), then 5=bias_term 6=weight_data_size
[7=group] [8=int8_scale_term] 9=activation_type 10=activation_params, then dynamic_weight.
"""
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers.window_params import pads, per_axis

NUM_OUTPUT = Param(0, "num_output", 0)
PAD_VALUE = Param(18, "pad_value", 0.0)
GROUP = Param(7, "group", 1)


def window(rank):
    """kernel, dilation, stride and pads along `rank` axes."""
    return (per_axis(rank, 1, "kernel", 0) + per_axis(rank, 2, "dilation", 1) + per_axis(rank, 3, "stride", 1)
            + pads(rank, 4, 15))


def weight_and_activation(int8_scale_term=False):
    """5=bias_term 6=weight_data_size [8=int8_scale_term] 9=activation_type 10=activation_params."""
    int8 = (Param(8, "int8_scale_term", 0),) if int8_scale_term else ()
    return ((Param(5, "bias_term", 0), Param(6, "weight_data_size", 0)) + int8
            + (Param(9, "activation_type", 0), Param(10, "activation_params", [])))


def output_sizes(rank):
    """output_w / output_h at 20 / 21 (Deconvolution, Deconvolution1D, Fold); output_w / h / d at
    25 / 26 / 27 in 3-D, where 20 is output_pad_behind."""
    return per_axis(rank, 25 if rank == 3 else 20, "output", 0, step=1)


def convolution(rank, int8_scale_term=False):
    """Convolution (int8_scale_term=True), Convolution1D, Convolution3D: 19=dynamic_weight last,
    except in 3-D (ncnn's 3-D convolutions have none)."""
    dynamic = (Param(19, "dynamic_weight", 0),) if rank < 3 else ()
    return (NUM_OUTPUT,) + window(rank) + (PAD_VALUE,) + weight_and_activation(int8_scale_term) + dynamic


def deconvolution(rank):
    """Deconvolution, Deconvolution1D, Deconvolution3D: output_pad_right / bottom / behind at
    18 / 19 / 20 and the output sizes after the window; 28=dynamic_weight last, except in 3-D."""
    output_pads = per_axis(rank, 18, "output_pad", 0, step=1, names=("right", "bottom", "behind"))
    dynamic = (Param(28, "dynamic_weight", 0),) if rank < 3 else ()
    return ((NUM_OUTPUT,) + window(rank) + output_pads + output_sizes(rank) + weight_and_activation()
            + dynamic)


def with_group(params):
    """The DepthWise schema: the same params with 7=group after 6=weight_data_size (writer order)."""
    return tuple(p for q in params for p in ((q, GROUP) if q.id == 6 else (q,)))


def weight_and_bias(p):
    """weight_data (tagged), then bias_data raw x num_output when bias_term; nothing with
    dynamic_weight (the weights are then bottoms)."""
    if getattr(p, "dynamic_weight", 0):
        return []
    specs = [WeightSpec("weight_data", p.weight_data_size, True)]
    if p.bias_term:
        specs.append(WeightSpec("bias_data", p.num_output, False))
    return specs


def int8_scales(weight_scales, top):
    """The int8 buffers after the bias (load_model of Convolution, ConvolutionDepthWise, InnerProduct):
    weight_data_int8_scales x weight_scales and one bottom_blob_int8_scales unless weight_scales is
    None, then one top_blob_int8_scales when `top` (int8_scale_term > 100)."""
    specs = []
    if weight_scales is not None:
        specs.append(WeightSpec("weight_data_int8_scales", weight_scales, False))
        specs.append(WeightSpec("bottom_blob_int8_scales", 1, False))
    if top:
        specs.append(WeightSpec("top_blob_int8_scales", 1, False))
    return specs
