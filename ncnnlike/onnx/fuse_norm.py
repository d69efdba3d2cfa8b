"""Normalisations written as chains (fuse.py's matchers for them).

LayerNorm, as paddle2onnx and torch write it (PP-OCRv4's SVTR blocks, ViT exports):
    mean = ReduceMean(x, trailing axes, keepdims); d = x - mean
    var = ReduceMean(Pow(d, 2) or d * d, same axes); s = Sqrt(var + eps)
    n = d / s  (or d * Reciprocal(s));  y = n * gamma + beta  (gamma, beta optional constants)
  -> LayerNormalization(x, gamma, beta, axis, epsilon). Besides being one layer, this keeps
  Pow(d, 2) of a negative d away from ncnn's BinaryOp pow (2.4e38 on x86, NaN after the Sqrt).

GroupNorm, as torch's legacy exporter writes nn.GroupNorm:
    r = Reshape(x, [1, G, -1]); i = InstanceNormalization(r, ones(G), zeros(G), eps)
    y = Reshape(i, shape of x) * gamma[C, 1, ...] + beta[C, 1, ...]
  -> GroupNorm(x, gamma, beta, num_groups=G, epsilon)  [ncnnlike domain].
"""
import numpy as np
from onnx import helper

from ncnnlike.onnx.importer import FUSED


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _const_operand(v, n):
    """(other input, constant array) of a binary node with one constant operand, else (None, None)."""
    for k in (1, 0):
        c = v.consts.get(n.input[k]) if len(n.input) == 2 else None
        if c is not None and v.consts.get(n.input[1 - k]) is None:
            return n.input[1 - k], np.asarray(c, np.float32)
    return None, None


def _reduce_axes(v, n, rank):
    """Sorted non-negative axes of a ReduceMean with keepdims, or None."""
    a = _attrs(n)
    if not a.get("keepdims", 1):
        return None
    if "axes" in a:
        axes = list(a["axes"])
    elif len(n.input) > 1 and n.input[1] in v.consts:
        axes = [int(i) for i in np.ravel(v.consts[n.input[1]])]
    else:
        return None
    return sorted(ax + rank if ax < 0 else ax for ax in axes)


def _square_of(v, t, d):
    """The nodes computing t = d^2 (Pow(d, 2) or d * d), or None."""
    p = v.op(t, "Pow")
    if p is not None and p.input[0] == d and v.scalar(p.input[1]) == 2.0:
        return [p]
    m = v.op(t, "Mul")
    if m is not None and list(m.input) == [d, d]:
        return [m]
    return None


def _divided(v, t):
    """(d, s, nodes) for t = d / s or d * Reciprocal(s)."""
    n = v.op(t, "Div")
    if n is not None:
        return n.input[0], n.input[1], [n]
    n = v.op(t, "Mul")
    if n is None or len(n.input) != 2:
        return None
    for a, b in v.operands(n):
        r = v.op(b, "Reciprocal")
        if r is not None:
            return a, r.input[0], [n, r]
    return None


def _normalized(v, t, used):
    """(x, axes, eps) when t = (x - mean(x)) / sqrt(var(x) + eps) over trailing axes, else None."""
    div = _divided(v, t)
    sqrt = v.op(div[1], "Sqrt") if div else None
    add = v.op(sqrt.input[0], "Add") if sqrt else None
    if add is None:
        return None
    var, eps, _ = v.split_scalar(add)
    var_node = v.op(var, "ReduceMean") if var else None
    d = div[0]
    sub = v.op(d, "Sub")
    sq = _square_of(v, var_node.input[0], d) if var_node else None
    if sq is None or sub is None:
        return None
    x, mean = sub.input
    mean_node = v.op(mean, "ReduceMean")
    rank = len(v.shapes.get(x, ()))
    if mean_node is None or mean_node.input[0] != x or not rank:
        return None
    axes = _reduce_axes(v, mean_node, rank)
    if axes is None or axes != _reduce_axes(v, var_node, rank) or axes != list(range(rank - len(axes), rank)):
        return None
    used.extend(div[2] + [sqrt, add, var_node] + sq + [sub, mean_node])
    return x, axes, eps


def _affine_const(value, shape):
    """gamma or beta broadcast to the normalised `shape`, or None when it varies along other axes."""
    value = np.asarray(value, np.float32)
    while value.ndim > len(shape) and value.shape[0] == 1:
        value = value.reshape(value.shape[1:])
    if value.ndim > len(shape):
        return None
    try:
        return np.ascontiguousarray(np.broadcast_to(value, shape))
    except ValueError:
        return None


def match_layernorm(v, root):
    used, gamma, beta = [], None, None
    t = root.output[0]
    n = v.op(t, "Add")
    if n is not None:
        other, beta = _const_operand(v, n)
        if other is not None:
            used.append(n)
            t = other
    n = v.op(t, "Mul")
    if n is not None:
        other, gamma = _const_operand(v, n)
        if other is not None:
            used.append(n)
            t = other
    core = _normalized(v, t, used)
    if core is None:
        return None
    x, axes, eps = core
    shape = tuple(v.shapes[x][axes[0]:])
    gamma = np.ones(shape, np.float32) if gamma is None else _affine_const(gamma, shape)
    beta = np.zeros(shape, np.float32) if beta is None else _affine_const(beta, shape)
    if gamma is None or beta is None:
        return None
    names = [root.output[0] + "_fused_gamma", root.output[0] + "_fused_beta"]
    v.consts.update(zip(names, (gamma, beta)))
    node = helper.make_node("LayerNormalization", [x] + names, [root.output[0]], name=root.name,
                            axis=int(axes[0]), epsilon=float(eps))
    return node, used


def match_groupnorm(v, root):
    used = []
    add = v.op(root.output[0], "Add")
    t, beta = _const_operand(v, add) if add is not None else (None, None)
    mul = v.op(t, "Mul") if t else None
    t, gamma = _const_operand(v, mul) if mul is not None else (None, None)
    back = v.op(t, "Reshape") if t else None
    inorm = v.op(back.input[0], "InstanceNormalization") if back else None
    grouped = v.op(inorm.input[0], "Reshape") if inorm else None
    if grouped is None:
        return None
    x = grouped.input[0]
    xs, gs = v.shapes.get(x), v.shapes.get(grouped.output[0])
    if xs is None or gs is None or len(gs) != 3 or len(xs) < 3 or tuple(v.shapes.get(t, ())) != tuple(xs):
        return None
    scale, bias = v.consts.get(inorm.input[1]), v.consts.get(inorm.input[2])
    groups, channels = gs[1], xs[1]
    if scale is None or bias is None or np.any(scale != 1) or np.any(bias != 0) or channels % groups:
        return None
    per_channel = (channels,) + (1,) * (len(xs) - 2)
    gamma, beta = _affine_const(gamma, per_channel), _affine_const(beta, per_channel)
    if gamma is None or beta is None or xs[0] != 1 or gs[0] != 1:
        return None
    names = [root.output[0] + "_fused_gamma", root.output[0] + "_fused_beta"]
    v.consts.update(zip(names, (gamma.ravel(), beta.ravel())))
    eps = float(_attrs(inorm).get("epsilon", 1e-5))
    node = helper.make_node("GroupNorm", [x] + names, [root.output[0]], name=root.name, domain=FUSED,
                            num_groups=int(groups), epsilon=eps)
    return node, [add, mul, back, inorm, grouped]
