"""DepthToSpace -> PixelShuffle, SpaceToDepth -> Reorg, CumSum -> CumulativeSum (spec 3 param ids).

ONNX DepthToSpace DCR reads channel (sh*r + sw)*C' + c (ncnn PixelShuffle mode 1), CRD reads
c*r*r + sh*r + sw (mode 0); SpaceToDepth writes channel (sh*s + sw)*C + c (ncnn Reorg mode 1)."""
from ncnnlike.onnx.importer import converter


def _chw(ctx, node):
    x = node.input[0]
    if ctx.rank(x) != 4 or ctx.batch_axis(x) != 0:
        ctx.fail("%s needs an (N, C, H, W) tensor" % node.op_type)
    return x


@converter("DepthToSpace")
def depth_to_space(ctx, node):
    x = _chw(ctx, node)
    a = ctx.attrs(node)
    mode = a.get("mode", "DCR")
    if mode not in ("DCR", "CRD"):
        ctx.fail("mode '%s' is not DCR or CRD" % mode)
    ctx.add("PixelShuffle", [ctx.blob(x)], [node.output[0]], {0: int(a["blocksize"]), 1: int(mode == "DCR")})


@converter("SpaceToDepth")
def space_to_depth(ctx, node):
    x = _chw(ctx, node)
    s = int(ctx.attrs(node)["blocksize"])
    h, w = ctx.shape(x)[2:]
    if h % s or w % s:
        ctx.fail("blocksize %d does not divide H, W = %d, %d" % (s, h, w))
    ctx.add("Reorg", [ctx.blob(x)], [node.output[0]], {0: s, 1: 1})


@converter("CumSum")
def cumsum(ctx, node):
    """Inclusive forward running sum along a constant axis (exclusive / reverse are refused)."""
    a = ctx.attrs(node)
    if a.get("exclusive", 0) or a.get("reverse", 0):
        ctx.fail("CumSum with exclusive=1 or reverse=1 is not supported (ncnn sums forward, inclusive)")
    x = node.input[0]
    axis = int(ctx.const_input(node, 1).ravel()[0])
    ctx.add("CumulativeSum", [ctx.blob(x)], [node.output[0]], {0: ctx.axis(x, axis)})
