"""The fast int8 graph's 1x1 op fused with what follows it: ncnn's inverted-residual blocks end in a
1x1 projection with a float top (PointwiseInt8), a BinaryOp add of the block's input (residual
blocks), and the quantizing of that sum for the next block's first conv (QuantizeInt8). After
lowering, this pass makes each such chain one node, PointwiseInt8AddQ (or PointwiseInt8Q where no
add follows), which adds at its store and writes the float sum and its int8 bytes in the same pass
(layers/_pointwise_op.h): the same float32 add and the same rounding, so the same outputs, without
two nodes and their passes over memory (Lite0: 15 chains, 9 with an add).

The chain as lowered (NCHW tensors between the NHWC custom ops, whose Transposes onnxruntime
cancels):  y = PointwiseInt8(x, ...)  ->  Transpose(y) to NCHW  ->  [Add with a tensor of the same
shape (LowerCtx.same_shape_adds)]  ->  Transpose to NHWC  ->  QuantizeInt8  ->  q.
It fuses only where every tensor it removes is read by the chain alone and is no graph output;
the float sum stays available (a Transpose of the fused node's first output) to whatever else reads it.
"""
from collections import defaultdict

from ncnnlike.layers import dw_vnni, pw_vnni, quantize_op
from ncnnlike.layers.lowering import FLOAT, Node

TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


def _is(node, op_type, domain=""):
    return node.op_type == op_type and node.domain == domain


def _transpose(node, perm):
    return _is(node, "Transpose") and list(node.attrs.get("perm", ())) == perm


class _Graph:
    """The lowered nodes' readers by tensor name, and the graph's outputs."""

    def __init__(self, nodes, outputs):
        self.readers = defaultdict(list)
        for node in nodes:
            for t in node.input:
                self.readers[t].append(node)
        self.outputs = set(outputs)

    def sole_reader(self, tensor):
        """The one node reading `tensor`, where it is no graph output, else None."""
        readers = self.readers[tensor]
        return readers[0] if len(readers) == 1 and tensor not in self.outputs else None


def _chain(ctx, g, node):
    """(transpose, add or None, residual or None, to-NHWC transpose, quantize) after a PointwiseInt8
    conv node, or None where the chain is not there whole."""
    if not _is(node, pw_vnni.OP, dw_vnni.DOMAIN):
        return None
    t1 = g.sole_reader(node.output[0])
    if t1 is None or not _transpose(t1, TO_NCHW):
        return None
    y = t1.output[0]
    add, residual, z = None, None, y
    reader = g.sole_reader(y)
    if reader is not None and _is(reader, "Add") and reader.output[0] in ctx.same_shape_adds:
        others = [t for t in reader.input if t != y]
        if len(others) == 1:
            add, residual, z = reader, others[0], reader.output[0]
    for t2 in g.readers[z]:
        quant = g.sole_reader(t2.output[0]) if _transpose(t2, TO_NHWC) else None
        if quant is not None and _is(quant, quantize_op.OP, dw_vnni.DOMAIN) and "pad" not in quant.attrs:
            return t1, add, residual, t2, quant
    return None


def _fused_nodes(ctx, g, node, chain):
    """The nodes replacing `node` and its chain: [Transpose of the residual], the fused op, and,
    where anything else reads the chain's NCHW sum, the Transpose of its float output back to it
    (onnxruntime keeps a node nobody reads)."""
    t1, add, residual, t2, quant = chain
    out = []
    inputs = list(node.input)
    if add is not None:
        inputs.append(ctx.fresh("pwr"))
        out.append(Node("Transpose", [residual], [inputs[-1]], {"perm": TO_NHWC}, ctx.fresh("n_pwr")))
    y = ctx.fresh("pwy")
    attrs = dict(node.attrs, domain=dw_vnni.DOMAIN, qscale=quant.attrs["scale"])
    op = pw_vnni.OP_ADD_Q if add is not None else pw_vnni.OP_Q
    out.append(Node(op, inputs, [y, quant.output[0]], attrs, ctx.fresh("n_" + op)))
    z = add.output[0] if add is not None else t1.output[0]
    if z in g.outputs or any(reader is not t2 for reader in g.readers[z]):
        out.append(Node("Transpose", [y], [z], {"perm": TO_NCHW}, ctx.fresh("n_pwz")))
    return y, out


def fuse(ctx, outputs):
    """Fuse every chain of ctx.nodes (Node records) whose removed tensors nothing else reads and that
    are not among the graph's `outputs`; in place."""
    if ctx.build != "records":
        return
    g = _Graph(ctx.nodes, outputs)
    shapes = {t: dims for t, _, dims in ctx.value_infos}
    gone, placed, stale = set(), {}, set()
    for node in ctx.nodes:
        chain = _chain(ctx, g, node)
        if chain is None:
            continue
        t1, add, _, t2, quant = chain
        y, nodes = _fused_nodes(ctx, g, node, chain)
        ctx.value_infos.append((y, FLOAT, shapes[node.output[0]]))
        stale.add(node.output[0])
        gone.update(id(n) for n in (node, t1, add, t2, quant) if n is not None)
        placed[id(add if add is not None else t1)] = nodes     # where the sum was made: after its inputs
    if not gone:
        return
    kept = []
    for old in ctx.nodes:
        kept.extend(placed.get(id(old), [] if id(old) in gone else [old]))
    ctx.nodes[:] = kept
    ctx.value_infos[:] = [info for info in ctx.value_infos if info[0] not in stale]
