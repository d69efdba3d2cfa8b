"""GroupNorm (groupnorm.cpp, x86/groupnorm_x86.cpp): normalise groups of channels together.

The channel axis is the outermost axis of the ncnn blob: w for 1-D, h (rows) for 2-D, c for 3-D
and 4-D. The `channels` channels are split into `group` groups of channels/group; each group is
normalised over all its values, y = (x - mean) / sqrt(var + eps) (population variance), then
y * gamma[q] + beta[q] per channel when affine. Params 0=group (1), 1=channels, 2=eps (0.001),
3=affine (1); weights gamma_data, beta_data, raw float32 x channels each, when affine.

ncnn normalises only the first group * (channels / group) channels and leaves any others as they
are (and reads past the blob when `channels` exceeds it): a `channels` that is not the blob's
channel count, or not a multiple of `group`, is refused here.
"""

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers.instancenorm import normalize_rows
from ncnnlike.layers import checks

TYPE = "GroupNorm"

# ModelWriter order: 0 1 2 3
PARAMS = (
    Param(0, "group", 1),
    Param(1, "channels", 0),
    Param(2, "eps", 0.001),
    Param(3, "affine", 1),
)


def weights(p):
    """gamma_data then beta_data, raw float32 x channels each, only when affine."""
    if not p.affine:
        return []
    return [WeightSpec("gamma_data", p.channels, False), WeightSpec("beta_data", p.channels, False)]


def _check(layer, p, shape):
    """channels must be the blob's channel count and split evenly into the groups."""
    if p.group < 1 or p.channels != shape[0] or p.channels % p.group:
        raise NcnnlikeError("layer %s (%s): channels %d must equal the blob's channel axis (%d of shape %s) "
                            "and be a multiple of group %d" % (layer.name, layer.type, p.channels, shape[0],
                                                               shape, p.group))


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    _check(layer, p, shape)
    x = ctx.op("Reshape", [ctx.bottom(layer), ctx.ints([0, p.group, -1])])
    y = ctx.op("Reshape", [normalize_rows(ctx, x, p.eps), ctx.ints([0] + list(shape))])
    if p.affine:
        per_channel = (p.channels,) + (1,) * (len(shape) - 1)
        gamma = layer.weight("gamma_data").reshape(per_channel)
        beta = layer.weight("beta_data").reshape(per_channel)
        y = ctx.op("Add", [ctx.op("Mul", [y, ctx.const(gamma)]), ctx.const(beta)])
    ctx.top(layer, 0, y, shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.positive(p, "group", "channels")
    checks.finite(p, 'eps')
    checks.flag(p, "affine")
    if p.channels % p.group:
        raise checks.Invalid("channels=%d: must be a multiple of group=%d" % (p.channels, p.group))
