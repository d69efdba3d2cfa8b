"""Convolution (spec 3, convolution.cpp): params, .bin buffers, and the lowering: float to ONNX Conv
(conv_nd.lower_conv, shared with the 1-D / 3-D layers), int8 through int8.py.

The border is nd_geometry's, as for every rank: the explicit pads (with pad_value) when any is > 0
(pads mixing signs refused: ncnn pads by each as given and overruns its buffer), SAME_UPPER /
SAME_LOWER (with pad_value too) only when all four pads are -233 / all -234 (else no border at all,
as make_padding), and ncnn's crops where a SAME total is negative (kernel extent < stride along one
axis while the other pads): a negative top drops the last rows, a negative left the first columns.
Refused where ncnn writes outside its buffers (nd_geometry docstring): a negative bottom or right,
a negative left on w >= 12, and any negative border on a bottom pip ncnn's x86 kernel pads
channel-packed (channels % 4 == 0, for int8 channels % 8 == 0).
"""

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers import conv_params
from ncnnlike.layers import nd_geometry as geo
from ncnnlike.layers.base import resolve
from ncnnlike.layers import checks

TYPE = "Convolution"
PAD_LEFT, PAD_TOP, PAD_RIGHT, PAD_BOTTOM = 4, 14, 15, 16

# ModelWriter order: 0 1 [11] 2 [12] 3 [13] 4 [14] [15] [16] 18 5 6 8 9 [-23310] 19
PARAMS = conv_params.convolution(rank=2, int8_scale_term=True)


def weights(p):
    """weight (tagged), bias, then int8 scales: weight per output channel, bottom, top if > 100."""
    if p.dynamic_weight:
        return []
    scales = p.num_output if p.int8_scale_term else None
    return conv_params.weight_and_bias(p) + conv_params.int8_scales(scales, top=p.int8_scale_term > 100)


def pads_and_out(p, in_h, in_w, group_ignored=None):
    """ONNX pads [top, left, bottom, right] and output (h, w) of make_padding's border (for int8.py
    and method=eq); NcnnlikeError for a border ONNX pads cannot express (a negative one, which
    lower() first turns into a crop of the bottom) and for params ncnn cannot run."""
    axes = geo.axes_of(p, 2)
    try:
        geo.check_axes(axes)
        borders = geo.conv_borders(axes, [in_h, in_w])
        if any(v < 0 for b in borders for v in b):
            raise ValueError("negative border %s: ncnn crops the bottom there" % (borders,))
        out = geo.out_sizes(axes, [in_h, in_w], borders)
    except ValueError as exc:
        raise NcnnlikeError("Convolution on %dx%d: %s" % (in_h, in_w, exc)) from None
    (top, bottom), (left, right) = borders
    return [top, left, bottom, right], tuple(out)


def int8_view(ctx, layer, sizes, plan):
    """(layer, params) as int8.py lowers them: ncnn's crops applied to the bottom (bound to a fresh
    blob; cropping commutes with quantization) and the rest of the border as explicit pads, which
    int8.py pads with (int8)pad_value as ncnn does."""
    if not geo.has_crops(plan):
        return layer, resolve(layer)
    tensor, quant = ctx.bottom_q(layer)
    blob = ctx.fresh(layer.bottoms[0])
    kept = [n - c[0] - c[1] for n, c in zip(sizes, plan)]
    ctx.bind(blob, geo.crop(ctx, tensor, sizes, plan, 2), [ctx.in_shape(layer)[0]] + kept, quant=quant)
    (_, _, top, bottom), (_, _, left, right) = plan
    params = layer.params.copy()
    params.update({PAD_LEFT: left, PAD_TOP: top, PAD_RIGHT: right, PAD_BOTTOM: bottom})
    view = layer.replace(bottoms=[blob] + list(layer.bottoms[1:]), params=params)
    return view, resolve(view)


def lower_2d(layer, p, ctx, group):
    """Convolution / ConvolutionDepthWise with `group` groups: int8 when int8.runs_int8, else float."""
    from ncnnlike.layers import conv_nd   # the lowering (and numpy) only when a graph is lowered
    from ncnnlike.layers.int8 import lower_int8, runs_int8
    if p.dynamic_weight:
        raise conv_nd.fail(layer, "dynamic_weight=1 is not supported")
    if not runs_int8(layer, p, ctx):
        return conv_nd.lower_conv(ctx, layer, p, 2, group)
    _, sizes, _, _, plan = conv_nd.checked_geometry(ctx, layer, p, 2, group, pack=8)
    view, view_p = int8_view(ctx, layer, sizes, plan)
    return lower_int8(view, view_p, ctx)


def lower(layer, p, ctx):
    lower_2d(layer, p, ctx, 1)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p)
    checks.at_least(p, 0, "int8_scale_term")
