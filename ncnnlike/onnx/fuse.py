"""Decomposed activations and normalisations fused back into one node before conversion.

paddle2onnx and older torch exporters write some layers as chains of elementwise nodes; ncnn has
one layer for each, which is faster, quantizes as one unit, and keeps ncnn's semantics away from
constructs that differ from ONNX's (BinaryOp pow of a negative base). Each pattern is matched at
its last node (the root), walking producers back; it is fused only when every node it removes
feeds nothing outside the pattern and is no graph output. Scalars may sit on either operand and
a scale may be applied anywhere along the product (x/6 * c, x * c / 6 ...):

  x * Clip(a*x + b, 0, h) * s  (h*s = 1)           -> HardSwish(alpha=a*s, beta=b*s)  [ncnnlike]
  x * HardSigmoid(x)                               -> HardSwish(alpha, beta)          [ncnnlike]
  Clip(a*x + b, 0, h) * s      (h*s = 1)           -> HardSigmoid(alpha=a*s, beta=b*s)
  x * Sigmoid(x), x * Sigmoid(1 * x) (paddle)      -> Swish                           [ncnnlike]
  x * Tanh(Softplus(x))                            -> Mish
  0.5 * x * (1 + Erf(x / sqrt(2)))                 -> Gelu
  0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 x^3)))  -> Gelu(approximate=tanh)
  (x - mean) / Sqrt(var + eps) * gamma + beta over the last axes  -> LayerNormalization
     (mean and var by ReduceMean with keepdims; var of Pow(d, 2) or d * d)
  Add(MatMul(x, W), b) with constant W, b -> Linear [ncnnlike] (InnerProduct with bias)
  GroupNorm as torch's legacy exporter writes it (fuse_norm.py), attention blocks ->
  MultiHeadAttention [ncnnlike] (fuse_attention.py)
Nodes in the [ncnnlike] domain are converted by the converters registered as "ncnnlike.<op>".
"""
import numpy as np
from onnx import helper

from ncnnlike.onnx.fuse_attention import match_attention
from ncnnlike.onnx.fuse_norm import match_groupnorm, match_layernorm
from ncnnlike.onnx.importer import FUSED

_SQRT_HALF = 0.7071067811865476
_TANH_GELU = 0.7978845608028654


def _close(value, want, rtol=1e-3):
    return value is not None and abs(value - want) <= rtol * abs(want)


class _View:
    """Producers, consumers and scalars of the node list being fused."""

    def __init__(self, nodes, consts, outputs, shapes, opset=17):
        self.nodes, self.consts, self.outputs, self.shapes = nodes, consts, set(outputs), shapes
        self.opset = opset
        self.producer = {o: n for n in nodes for o in n.output if o}
        self.uses = {}
        for n in nodes:
            for i in n.input:
                self.uses[i] = self.uses.get(i, 0) + 1

    def op(self, t, *types):
        """The node producing t when its op is one of `types` (default domain), else None."""
        n = self.producer.get(t)
        if n is not None and n.op_type in types and n.domain in ("", "ai.onnx"):
            return n
        return None

    @staticmethod
    def operands(n):
        """Both orders of a commutative binary node's two inputs (Add, Mul): a pattern may sit on either."""
        return (n.input[0], n.input[1]), (n.input[1], n.input[0])

    def scalar(self, t):
        v = self.consts.get(t)
        return float(np.asarray(v, np.float64).ravel()[0]) if v is not None and v.size == 1 else None

    def split_scalar(self, n):
        """(other input, scalar, scalar is input 1) of a binary node with one scalar constant operand."""
        if len(n.input) != 2:
            return None, None, None
        for k in (1, 0):
            s = self.scalar(n.input[k])
            if s is not None and self.consts.get(n.input[1 - k]) is None:
                return n.input[1 - k], s, k == 1
        return None, None, None

    def strip_scale(self, t, used):
        """(base, factor): t = base * factor through Mul / Div by scalar constants (all of them)."""
        base, a, _, nodes = self.affine_chain(t, scale_only=True)[-1]
        used.extend(nodes)
        return base, a

    def affine(self, t, used):
        """(x, a, b): t = a*x + b through Add / Sub / Mul / Div with scalar constants (all of them)."""
        base, a, b, nodes = self.affine_chain(t)[-1]
        used.extend(nodes)
        return base, a, b

    def affine_chain(self, t, scale_only=False):
        """[(tensor, a, b, nodes)]: t = a*tensor + b for t and each tensor walking back through
        scalar Add / Sub / Mul / Div (only Mul / Div with scale_only), nodes being those walked."""
        a, b, nodes = 1.0, 0.0, []
        out = [(t, a, b, [])]
        while len(out) <= len(self.nodes):      # a malformed graph may have a cycle
            n = self.op(t, "Mul", "Div") if scale_only else self.op(t, "Add", "Sub", "Mul", "Div")
            other, s, second = self.split_scalar(n) if n is not None else (None, None, None)
            if other is None:
                return out
            if n.op_type == "Add":
                b += a * s
            elif n.op_type == "Sub":
                a, b = (a, b - a * s) if second else (-a, b + a * s)
            elif n.op_type == "Mul":
                a *= s
            elif second and s != 0:
                a /= s
            else:
                return out
            nodes = nodes + [n]
            t = other
            out.append((t, a, b, nodes))
        return out

    def common_base(self, p, q, used_q, scale_only_q=False):
        """The tensor nearest to p that both p (through scales) and q (through an affine chain)
        are computed from: (x, p's factor, q's a, q's b), nodes walked added to used_q; or None."""
        q_chain = {t: (a, b, nodes) for t, a, b, nodes in self.affine_chain(q, scale_only_q)}
        for t, s, _, nodes in self.affine_chain(p, scale_only=True):
            if t in q_chain:
                a, b, q_nodes = q_chain[t]
                used_q.extend(nodes + q_nodes)
                return t, s, a, b
        return None

    def clip_bounds(self, n):
        """(lo, hi) of a Clip node from attributes or constant inputs; None when computed."""
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        lo, hi = attrs.get("min", -np.inf), attrs.get("max", np.inf)
        for k in (1, 2):
            if len(n.input) > k and n.input[k]:
                s = self.scalar(n.input[k])
                if s is None:
                    return None
                lo, hi = (s, hi) if k == 1 else (lo, s)
        return float(lo), float(hi)


# --- matchers: (view, root) -> (new node, nodes removed) or None ------------------------------
def _clip_of(v, t, used):
    """(input, h) when t = Clip(input, 0, h) with 0 < h < inf, else None."""
    clip = v.op(t, "Clip")
    bounds = v.clip_bounds(clip) if clip is not None else None
    if bounds is None or bounds[0] != 0.0 or not 0 < bounds[1] < np.inf:
        return None
    used.append(clip)
    return clip.input[0], bounds[1]


def _products(v, root, used):
    """(p, q, scale) for root = p * q * scale (scalar factors stripped), or None."""
    m, scale = v.strip_scale(root.output[0], used)
    n = v.op(m, "Mul")
    if n is None or len(n.input) != 2:
        return None
    used.append(n)
    return n.input[0], n.input[1], scale


def _hardswish_node(root, x, alpha, beta):
    return helper.make_node("HardSwish", [x], [root.output[0]], name=root.name, domain=FUSED,
                            alpha=float(alpha), beta=float(beta))


def _swish_by_hardsigmoid(v, root, a, b, scale, used):
    """a * HardSigmoid(x) * scale with a = x * s (scalars): HardSwish(alpha, beta) when s*scale = 1."""
    h, s3 = v.strip_scale(b, used)
    n = v.op(h, "HardSigmoid")
    found = v.common_base(a, n.input[0], used) if n is not None else None
    if found is None or found[2:] != (1.0, 0.0) or not _close(scale * s3 * found[1], 1.0, 1e-6):
        return None
    used.append(n)
    attrs = {k.name: helper.get_attribute_value(k) for k in n.attribute}
    return _hardswish_node(root, found[0], attrs.get("alpha", 0.2), attrs.get("beta", 0.5)), used


def match_hardswish(v, root):
    """x * Clip(a x + b, 0, h) * s with h * s = 1 (all scalar factors gathered into s)."""
    used = []
    prod = _products(v, root, used)
    if prod is None:
        return None
    p, q, scale = prod
    for a, b in ((p, q), (q, p)):
        found = _swish_by_hardsigmoid(v, root, a, b, scale, list(used))
        if found is not None:
            return found
        trial = list(used)
        h, s3 = v.strip_scale(b, trial)
        clip = _clip_of(v, h, trial)
        base = v.common_base(a, clip[0], trial) if clip is not None else None
        if base is None:
            continue
        x, s2, ca, cb = base
        s = scale * s2 * s3
        if _close(clip[1] * s, 1.0, 1e-6):
            return _hardswish_node(root, x, ca * s, cb * s), trial
    return None


def match_hardsigmoid(v, root):
    """Clip(a x + b, 0, h) * s with h * s = 1; x is the farthest input of the scalar chain whose
    nodes feed nothing else."""
    used = []
    h, scale = v.strip_scale(root.output[0], used)
    clip = _clip_of(v, h, used)
    if clip is None or not _close(clip[1] * scale, 1.0, 1e-6):
        return None
    for x, a, b, nodes in reversed(v.affine_chain(clip[0])):
        if len(used) + len(nodes) >= 2 and _removable(v, root, used + nodes + [root]):
            return helper.make_node("HardSigmoid", [x], [root.output[0]], name=root.name,
                                    alpha=float(a * scale), beta=float(b * scale)), used + nodes
    return None


def match_swish_mish(v, root):
    n = v.op(root.output[0], "Mul")
    if n is None or len(n.input) != 2:
        return None
    for x, g in v.operands(n):
        sig = v.op(g, "Sigmoid")
        used = [n, sig]
        if sig is not None and v.strip_scale(sig.input[0], used) == (x, 1.0):
            return helper.make_node("Swish", [x], [root.output[0]], name=root.name, domain=FUSED), used
        tanh = v.op(g, "Tanh")
        soft = v.op(tanh.input[0], "Softplus") if tanh is not None else None
        if soft is not None and soft.input[0] == x:
            return helper.make_node("Mish", [x], [root.output[0]], name=root.name), [n, tanh, soft]
    return None


def _is_cube(v, t, x, used):
    """t = x^3 as Pow(x, 3) or x * x * x."""
    p = v.op(t, "Pow")
    if p is not None and p.input[0] == x and v.scalar(p.input[1]) == 3.0:
        used.append(p)
        return True
    m = v.op(t, "Mul")
    if m is None:
        return False
    for a, b in v.operands(m):
        sq = v.op(b, "Mul")
        if a == x and sq is not None and list(sq.input) == [x, x]:
            used.extend([m, sq])
            return True
    return False


def _gelu_kind(v, t, a, used):
    """(kind, scale, x, s) when t = scale * (1 + Erf(x/sqrt2)) ('none') or scale * (1 + Tanh(c(x +
    k x^3))) ('tanh') and a = s * x; else None."""
    inner, scale = v.strip_scale(t, used)
    add = v.op(inner, "Add")
    other, one, _ = v.split_scalar(add) if add is not None else (None, None, None)
    if other is None or one != 1.0:
        return None
    used.append(add)
    erf = v.op(other, "Erf")
    if erf is not None:
        used.append(erf)
        found = v.common_base(a, erf.input[0], used)
        if found is not None and found[3] == 0.0 and _close(found[2], _SQRT_HALF):
            return "none", scale, found[0], found[1]
        return None
    tanh = v.op(other, "Tanh")
    if tanh is None:
        return None
    used.append(tanh)
    poly, c = v.strip_scale(tanh.input[0], used)
    poly = v.op(poly, "Add")
    if poly is None or not _close(c, _TANH_GELU):
        return None
    used.append(poly)
    for p, q in v.operands(poly):
        cube, k = v.strip_scale(q, used)
        found = v.common_base(a, p, used, scale_only_q=True)
        if found is not None and found[2] == 1.0 and _close(k, 0.044715) and _is_cube(v, cube, p, used):
            return "tanh", scale, found[0], found[1]
    return None


def match_gelu(v, root):
    used = []
    prod = _products(v, root, used)
    if prod is None:
        return None
    p, q, scale = prod
    for a, b in ((p, q), (q, p)):
        trial = list(used)
        kind = _gelu_kind(v, b, a, trial)
        if kind is not None and _close(scale * kind[1] * kind[3], 0.5, 1e-5):
            return helper.make_node("Gelu", [kind[2]], [root.output[0]], name=root.name, approximate=kind[0]), trial
    return None


def match_linear(v, root):
    """Add(MatMul(x, W), b) with constant W (in, out) and b (out,): torch's Linear on a sequence."""
    add = v.op(root.output[0], "Add")
    if add is None or len(add.input) != 2:
        return None
    for a, b in v.operands(add):
        mm = v.op(a, "MatMul")
        w, bias = (v.consts.get(mm.input[1]), v.consts.get(b)) if mm is not None else (None, None)
        if w is None or bias is None or w.ndim != 2 or v.consts.get(mm.input[0]) is not None:
            continue
        if np.asarray(bias).size == w.shape[1] and np.asarray(bias).ndim <= len(v.shapes.get(a, ())):
            name = root.output[0] + "_linear_bias"
            v.consts[name] = np.asarray(bias, np.float32).ravel()
            return helper.make_node("Linear", [mm.input[0], mm.input[1], name], [root.output[0]], name=root.name,
                                    domain=FUSED), [mm, add]
    return None


MATCHERS = [match_attention, match_linear, match_layernorm, match_groupnorm, match_gelu, match_hardswish, match_hardsigmoid, match_swish_mish]


def _removable(v, root, used):
    """Every removed node but the root feeds only nodes of the pattern and is no graph output."""
    inside = {id(n) for n in used} | {id(root)}
    uses = {}
    for n in v.nodes:
        if id(n) in inside:
            for i in n.input:
                uses[i] = uses.get(i, 0) + 1
    for n in used:
        if n is root:
            continue
        for o in n.output:
            if o and (o in v.outputs or v.uses.get(o, 0) != uses.get(o, 0)):
                return False
    return True


def _fuse_once(nodes, consts, outputs, shapes, opset):
    """Apply the first match found scanning roots from the end; None when nothing matches."""
    v = _View(nodes, consts, outputs, shapes, opset)
    for i in range(len(nodes) - 1, -1, -1):
        root = nodes[i]
        if root.domain not in ("", "ai.onnx"):
            continue
        for matcher in MATCHERS:
            found = matcher(v, root)
            if found is None:
                continue
            new, used = found
            used = [n for n in used if n is not root]
            if not _removable(v, root, used + [root]):
                continue
            gone = {id(n) for n in used}
            return [new if n is root else n for n in nodes if id(n) not in gone]
    return None


def fuse(nodes, consts, outputs, shapes, opset=17):
    """The node list with every pattern of the module docstring fused (consts may gain gamma/beta);
    `shapes` are the static ONNX shapes (ranks for the reduction axes)."""
    while True:
        fused = _fuse_once(nodes, consts, outputs, shapes, opset)
        if fused is None:
            return nodes
        nodes = fused
