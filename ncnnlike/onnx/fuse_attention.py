"""Attention blocks as torch exports them -> one MultiHeadAttention (fuse.py's matcher for them).

Matched at the output projection, walking back (x: (1, T, E) tensors; W constants):
    out  = Add(MatMul(flat, Wo), bo)            flat = Reshape(Transpose(o, [0,2,1,3]), [1, T, E'])
    o    = MatMul(Softmax(S, axis=-1), V)       S = s * MatMul(Q, K^T) (scalars anywhere on Q, K^T, S)
  and the heads split off projections either one per input (BERT, nn.MultiheadAttention)
    Q = Transpose(Reshape(Add(MatMul(xq, Wq), bq), [1, T, H, d]), [0,2,1,3])  (K^T: perm [0,2,3,1],
        or Transpose(K, [0,1,3,2]) of a K split like Q)
  or from one fused qkv projection (timm ViT):
    Q, K, V = Gather(Transpose(Reshape(Add(MatMul(x, Wqkv), bqkv), [1, T, 3, H, d]), [2,0,3,1,4]), 0/1/2)
-> MultiHeadAttention(xq [, xk, xv]) with embed_dim = H*d, num_heads = H, scale = s, weights
   Wq^T, bq, Wk^T, bk, Wv^T, bv, Wo^T, bo (ncnn's (out, in) layout). A mask (an Add before the
   Softmax) or any other shape stays MatMul + Softmax.
"""
import numpy as np
from onnx import helper

from ncnnlike.onnx.importer import FUSED


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _linear(v, t, used):
    """(x, W (in, out), b) for t = MatMul(x, W) [+ b] with constant W (and b), or None."""
    bias = None
    add = v.op(t, "Add")
    if add is not None:
        for a, b in v.operands(add):
            if v.consts.get(b) is not None and v.op(a, "MatMul") is not None:
                bias, t = np.asarray(v.consts[b], np.float32).ravel(), a
                used.append(add)
                break
        else:
            return None
    mm = v.op(t, "MatMul")
    w = v.consts.get(mm.input[1]) if mm is not None else None
    if w is None or w.ndim != 2 or v.consts.get(mm.input[0]) is not None:
        return None
    used.append(mm)
    w = np.asarray(w, np.float32)
    if bias is None:
        bias = np.zeros(w.shape[1], np.float32)
    return (mm.input[0], w, bias) if bias.size == w.shape[1] else None


def _heads(v, t, perm, used):
    """(x, W, b, heads, d) for t = Transpose(Reshape(linear(x), [1, T, H, d]), perm)."""
    tr = v.op(t, "Transpose")
    if tr is None or list(_attrs(tr).get("perm", [])) != perm:
        return None
    rs = v.op(tr.input[0], "Reshape")
    shape = v.shapes.get(rs.output[0]) if rs is not None else None
    if shape is None or len(shape) != 4 or shape[0] != 1:
        return None
    used.extend([tr, rs])
    lin = _linear(v, rs.input[0], used)
    return None if lin is None else lin + (shape[2], shape[3])


def _fused_heads(v, t, used, memo):
    """(x, W, b, heads, d) of Q, K or V taken by Gather(i) from one fused qkv projection."""
    g = v.op(t, "Gather")
    if g is None or _attrs(g).get("axis", 0) != 0 or v.scalar(g.input[1]) not in (0.0, 1.0, 2.0):
        return None
    i = int(v.scalar(g.input[1]))
    tr = v.op(g.input[0], "Transpose")
    rs = v.op(tr.input[0], "Reshape") if tr is not None else None
    shape = v.shapes.get(rs.output[0]) if rs is not None else None
    if shape is None or list(_attrs(tr).get("perm", [])) != [2, 0, 3, 1, 4] or len(shape) != 5 or shape[2] != 3:
        return None
    used.append(g)
    if tr.output[0] not in memo:
        inner = [tr, rs]
        lin = _linear(v, rs.input[0], inner)
        if lin is None:
            return None
        memo[tr.output[0]] = lin
        used.extend(inner)
    x, w, b = memo[tr.output[0]]
    e = shape[3] * shape[4]
    return x, w[:, i * e:(i + 1) * e], b[i * e:(i + 1) * e], shape[3], shape[4]


def _split(v, t, kind, used, memo):
    """Q / V (kind 'qv') or K^T (kind 'kt') as (x, W, b, heads, d), with its scalar factor."""
    t, scale = v.strip_scale(t, used)
    if kind == "kt":
        found = _heads(v, t, [0, 2, 3, 1], used)
        tr = v.op(t, "Transpose")
        if found is None and tr is not None and list(_attrs(tr).get("perm", [])) == [0, 1, 3, 2]:
            used.append(tr)
            inner, s2 = v.strip_scale(tr.input[0], used)
            found, scale = _split_plain(v, inner, used, memo), scale * s2
        return found, scale
    return _split_plain(v, t, used, memo), scale


def _split_plain(v, t, used, memo):
    return _heads(v, t, [0, 2, 1, 3], used) or _fused_heads(v, t, used, memo)


def _core(v, root, used):
    """(flat, o) of the output projection's input: Reshape(Transpose(o, [0,2,1,3]), [1, T, E'])."""
    rs = v.op(root, "Reshape")
    tr = v.op(rs.input[0], "Transpose") if rs is not None else None
    if tr is None or list(_attrs(tr).get("perm", [])) != [0, 2, 1, 3]:
        return None
    mm = v.op(tr.input[0], "MatMul")
    sm = v.op(mm.input[0], "Softmax") if mm is not None else None
    if sm is None or _attrs(sm).get("axis", -1 if v.opset >= 13 else 1) not in (-1, 3):
        return None
    used.extend([rs, tr, mm, sm])
    return sm.input[0], mm.input[1]


def match_attention(v, root):
    used, memo = [], {}
    out = _linear(v, root.output[0], used)
    core = _core(v, out[0], used) if out is not None else None
    if core is None:
        return None
    scores, vt = core
    s, scale = v.strip_scale(scores, used)
    qk = v.op(s, "MatMul")
    if qk is None:
        return None
    used.append(qk)
    (q, sq), (kt, sk), (vv, sv) = (_split(v, qk.input[0], "qv", used, memo), _split(v, qk.input[1], "kt", used, memo),
                                   _split(v, vt, "qv", used, memo))
    if q is None or kt is None or vv is None or sv != 1.0 or q[3:] != kt[3:] or q[3:] != vv[3:]:
        return None
    heads, d = q[3], q[4]
    embed = heads * d
    _, wo, bo = out
    if wo.shape[0] != embed or wo.shape[1] != q[1].shape[0] or any(p[1].shape[1] != embed for p in (q, kt, vv)):
        return None
    names = [root.output[0] + "_mha_" + k for k in ("wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo")]
    arrays = [q[1].T, q[2], kt[1].T, kt[2], vv[1].T, vv[2], wo.T, bo]
    v.consts.update((n, np.ascontiguousarray(a, np.float32)) for n, a in zip(names, arrays))
    inputs = [q[0]] if q[0] == kt[0] == vv[0] else [q[0], kt[0], vv[0]]
    node = helper.make_node("MultiHeadAttention", inputs + names, [root.output[0]], name=root.name, domain=FUSED,
                            num_heads=int(heads), scale=float(scale * sq * sk))
    return node, used
