"""Einsum (src/layer/einsum.cpp): sum of products of the bottoms over an equation, e.g. "ik,kj->ij".

Param 0=equation, the equation's characters as an int array (-23300=5,105,107,45,62,...). ncnn's
dialect (pip ncnn 1.0.20261020, measured; pnnx writes equations in it):
  - "ii" alone is the trace of a 2-D bottom (a 1-element blob);
  - else "lhs->rhs": one lhs token per bottom, letters i..x, 1 to 4 letters (the bottom's dims, in
    ncnn order c, d, h, w); a letter repeated takes a diagonal;
  - rhs is exactly "i", "ij", "ijk" or "ijkl": the output axes are always i, j, k, l in that order,
    and every other letter is summed over. Every output letter must occur in some lhs token.
pip ncnn refuses any other rhs at load time ("ij->ji", "ij->j", "ij,jk->ik"), although einsum.cpp
at the checked-out commit only checks that rhs letters are in i..l; we follow pip ncnn.
Where the dialect holds, the meaning is ONNX's Einsum, which computes it (batch axis as letter a).
Summation order differs from ncnn's nested loops: results agree to float rounding.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Einsum"

OUTPUTS = ("i", "ij", "ijk", "ijkl")   # the only rhs pip ncnn loads
FIRST, LAST = "i", "x"

# not in ModelWriter: schema order
PARAMS = (
    Param(0, "equation", []),
)


def equation_text(codes, where):
    """The equation string from its int array."""
    if not isinstance(codes, list) or not all(isinstance(c, int) and 32 <= c < 127 for c in codes):
        raise NcnnlikeError("%s: equation (0=) must be an int array of character codes, got %r" % (where, codes))
    return "".join(chr(c) for c in codes)


def parse(equation, where):
    """(lhs tokens, rhs) of an equation in ncnn's dialect, or a clear error."""
    if "->" not in equation:
        raise NcnnlikeError("%s: equation '%s' has no '->' (only 'ii', the trace, may omit it)" % (where, equation))
    lhs, rhs = equation.split("->", 1)
    tokens = lhs.split(",")
    for token in tokens:
        if not 1 <= len(token) <= 4 or any(not FIRST <= ch <= LAST for ch in token):
            raise NcnnlikeError("%s: equation '%s': input token '%s' must have 1 to 4 letters in %s..%s"
                                % (where, equation, token, FIRST, LAST))
    if rhs not in OUTPUTS:
        raise NcnnlikeError("%s: equation '%s': the output must be i, ij, ijk or ijkl (ncnn always writes "
                            "the output axes in that order)" % (where, equation))
    missing = [ch for ch in rhs if ch not in lhs]
    if missing:
        raise NcnnlikeError("%s: equation '%s': output letter '%s' occurs in no input" % (where, equation, missing[0]))
    return tokens, rhs


def letter_sizes(tokens, shapes, where):
    """letter -> size from the bottoms' shapes; each token must match its bottom's dims."""
    sizes = {}
    for n, (token, shape) in enumerate(zip(tokens, shapes)):
        if len(token) != len(shape):
            raise NcnnlikeError("%s: token '%s' has %d letters but bottom %d has shape %s"
                                % (where, token, len(token), n, shape))
        for ch, size in zip(token, shape):
            if sizes.setdefault(ch, size) != size:
                raise NcnnlikeError("%s: letter '%s' is %d in one bottom and %d in bottom %d"
                                    % (where, ch, sizes[ch], size, n))
    return sizes


def lower_trace(layer, ctx, where):
    """'ii': sum of x[i][i] for i < h of a 2-D bottom with h <= w, as a (1,) blob."""
    shape = ctx.in_shape(layer)
    if len(layer.bottoms) != 1 or len(shape) != 2 or shape[0] > shape[1]:
        raise NcnnlikeError("%s: the trace 'ii' needs one 2-D bottom with h <= w, got %s" % (where, shape))
    x = ctx.bottom(layer)
    if shape[0] != shape[1]:
        x = ctx.op("Slice", [x, ctx.ints([0]), ctx.ints([shape[0]]), ctx.ints([2])])
    y = ctx.op("Einsum", [x], equation="aii->a")
    ctx.top(layer, 0, ctx.op("Unsqueeze", [y, ctx.ints([1])]), (1,))


def lower(layer, p, ctx):
    where = "layer %s (Einsum)" % layer.name
    equation = equation_text(p.equation, where)
    if equation == "ii":
        return lower_trace(layer, ctx, where)
    tokens, rhs = parse(equation, where)
    if len(tokens) != len(layer.bottoms):
        raise NcnnlikeError("%s: equation '%s' has %d inputs but the layer has %d bottoms"
                            % (where, equation, len(tokens), len(layer.bottoms)))
    shapes = [ctx.in_shape(layer, i) for i in range(len(tokens))]
    sizes = letter_sizes(tokens, shapes, where)
    onnx_equation = ",".join("a" + t for t in tokens) + "->a" + rhs
    inputs = [ctx.bottom(layer, i) for i in range(len(tokens))]
    y = ctx.op("Einsum", inputs, equation=onnx_equation)
    ctx.top(layer, 0, y, tuple(sizes[ch] for ch in rhs))


BLOBS = ((1, None), 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    equation = "".join(chr(c) if 0 < c < 128 else "?" for c in p.equation or [])
    if equation != "ii" and "->" not in equation:
        raise checks.Invalid("equation %r has no '->' (ncnn's load_param refuses it)" % equation)
