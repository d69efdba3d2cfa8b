"""Gather / GatherElements with constant indices, Slice (any steps) -> Crop, Concat, Reshape, Flip;
Gather of a constant table by computed indices -> Embed (spec 3 param ids).

Taking a set of positions along one ncnn axis is pure data movement, exact in ncnn:
  - an ascending run of positions is one Crop (numpy-style starts/ends/axes);
  - several runs are Crops joined by a Concat (at most MAX_PIECES pieces);
  - positions start, start+k, ... (k > 1) crop the span, view it as (A, n, k, B), crop the first of
    each k and view the result back (at most 4 dims, so any blob works);
  - a negative step flips the axis first (Flip) and counts from the other end.
Gather of a scalar index drops the axis (y[:, -1] of torch's LSTM heads): the Crop's top keeps the
axis with size 1 as its actual shape, and consumers get a Reshape only when they need the view.

Embed (nn.Embedding, torch's Gather(weight, ids)): ids must be non-negative and below the table
size (ncnn clamps to [0, input_dim - 1], ONNX reads negative ids from the end); ids arrive in pip
ncnn as an int32 Mat.
"""
import numpy as np

from ncnnlike.onnx.importer import converter, shape_params

MAX_PIECES = 64


def _crop(ctx, part, axis, start, end, top):
    """Crop [start, end) of ncnn axis `axis` of part (tensor, ncnn shape): the part it makes."""
    name, shape = part
    out = tuple(shape[:axis]) + (end - start,) + tuple(shape[axis + 1:])
    ctx.add("Crop", [ctx.actual(name)[0]], [top], {9: [start], 10: [end], 11: [axis]}, shapes=[out])
    return top, out


def _view(ctx, part, shape, top):
    ctx.add("Reshape", [ctx.actual(part[0])[0]], [top], shape_params(shape), shapes=[tuple(shape)])
    return top, tuple(shape)


def _strided(ctx, part, axis, start, step, n, hint):
    """Positions start + i*step (i < n, step > 1) along `axis`, with start + n*step <= dim."""
    part = _crop(ctx, part, axis, start, start + n * step, ctx.fresh(hint + "_span"))
    shape = part[1]
    outer, inner = int(np.prod(shape[:axis])), int(np.prod(shape[axis + 1:]))
    grouped = tuple(d for d, keep in ((outer, outer > 1), (n, True), (step, True), (inner, inner > 1)) if keep)
    part = _view(ctx, part, grouped, ctx.fresh(hint + "_grouped"))
    part = _crop(ctx, part, 2 if outer > 1 else 1, 0, 1, ctx.fresh(hint + "_picked"))
    return _view(ctx, part, tuple(shape[:axis]) + (n,) + tuple(shape[axis + 1:]), ctx.fresh(hint + "_strided"))


def _pieces(positions):
    """Split positions into pieces (start, step, n): runs with one constant positive step."""
    pieces, i = [], 0
    while i < len(positions):
        j = i + 1
        step = positions[j] - positions[i] if j < len(positions) else 1
        if step < 1:
            step = 1
        while j < len(positions) and positions[j] - positions[j - 1] == step:
            j += 1
        pieces.append((positions[i], step if j - i > 1 else 1, j - i))
        i = j
    return pieces


def _piece(ctx, part, axis, piece, hint):
    start, step, n = piece
    if step == 1 or n == 1:
        return _crop(ctx, part, axis, start, start + n, ctx.fresh(hint + "_crop"))
    if start + n * step <= part[1][axis]:
        return _strided(ctx, part, axis, start, step, n, hint)
    head = _strided(ctx, part, axis, start, step, n - 1, hint) if n > 2 else \
        _crop(ctx, part, axis, start, start + 1, ctx.fresh(hint + "_crop"))
    last = start + (n - 1) * step
    tail = _crop(ctx, part, axis, last, last + 1, ctx.fresh(hint + "_last"))
    return _concat(ctx, [head, tail], axis, ctx.fresh(hint + "_joined"))


def _concat(ctx, parts, axis, top):
    shape = list(parts[0][1])
    shape[axis] = sum(p[1][axis] for p in parts)
    ctx.add("Concat", [ctx.actual(p[0])[0] for p in parts], [top], {0: axis}, shapes=[tuple(shape)])
    return top, tuple(shape)


def take(ctx, x, axis, positions, out):
    """Tensor `out` = positions (ints in [0, dim)) of ONNX axis `axis` of tensor x, in that order;
    its actual ncnn shape keeps x's rank (the axis resized)."""
    shape = tuple(ctx.ncnn_shape(x))
    a = ctx.axis(x, axis)
    positions = [int(p) for p in positions]
    part = (ctx.fresh(out + "_in"), shape)
    ctx.bind(part[0], ctx.blob(x), shape)
    if positions == list(range(shape[a])):
        ctx.alias(out, part[0])
        return
    if len(positions) > 1 and all(q < p for p, q in zip(positions, positions[1:])):
        top = ctx.fresh(out + "_flip")
        ctx.add("Flip", [ctx.actual(part[0])[0]], [top], {0: [a]}, shapes=[shape])
        part = (top, shape)
        positions = [shape[a] - 1 - p for p in positions]
    pieces = _pieces(positions)
    if len(pieces) > MAX_PIECES:
        ctx.fail("gathering %d separate pieces along an axis is not supported (at most %d)" % (len(pieces), MAX_PIECES))
    parts = [_piece(ctx, part, a, piece, out) for piece in pieces]
    final = parts[0] if len(parts) == 1 else _concat(ctx, parts, a, ctx.fresh(out + "_cat"))
    ctx.alias(out, final[0])


def _gather_axis(ctx, x, axis):
    r = ctx.rank(x)
    axis = axis + r if axis < 0 else axis
    if not 0 <= axis < r:
        ctx.fail("axis %d is out of range for rank %d" % (axis, r))
    return axis


@converter("Gather")
def gather(ctx, node):
    """Constant indices -> take(); a constant table indexed by computed ids -> Embed."""
    data, idx, y = node.input[0], node.input[1], node.output[0]
    axis = int(ctx.attrs(node).get("axis", 0))
    if ctx.const(data) is not None:
        return _embed(ctx, node, ctx.const(data), idx, axis)
    indices = ctx.const(idx)
    if indices is None:
        ctx.fail("Gather with computed indices is supported only on a constant table (Embed)")
    axis = _gather_axis(ctx, data, axis)
    n = ctx.shape(data)[axis]
    flat = indices.astype(np.int64).ravel()
    if np.any(flat < -n) or np.any(flat >= n):
        ctx.fail("indices %s are out of range for axis %d of size %d" % (flat.tolist()[:8], axis, n))
    b = ctx.batch_axis(data)
    if b == axis:
        ctx.fail("gathering along the batch axis is not supported")
    ctx.set_batch_axis(y, None if b is None else (b if b < axis else b - 1 + indices.ndim))
    take(ctx, data, axis, np.where(flat < 0, flat + n, flat).tolist(), y)


def _embed(ctx, node, table, ids, axis):
    """Embed: table (V, E), axis 0, ids of ncnn shape (T,) -> (T, E)."""
    if table.ndim != 2 or axis not in (0, -2):
        ctx.fail("Gather of a constant table needs a 2-D table and axis 0 (Embed), got %d-D, axis %d"
                 % (table.ndim, axis))
    words = int(np.prod(ctx.ncnn_shape(ids)))
    shape = ctx.ncnn_shape(ids)
    if len(shape) != 1:
        ctx.fail("Embed looks up a 1-D blob of ids; ids of ncnn shape %s are not supported" % list(shape))
    vocab, dim = table.shape
    y = node.output[0]
    params = {0: int(dim), 1: int(vocab), 2: 0, 3: int(table.size)}
    ctx.add("Embed", [ctx.blob(ids)], [y], params, [table.astype(np.float32)], shapes=[(words, int(dim))])


@converter("GatherElements")
def gather_elements(ctx, node):
    """Constant indices that pick the same positions along the axis everywhere: a Gather."""
    data, y = node.input[0], node.output[0]
    indices = ctx.const_input(node, 1).astype(np.int64)
    axis = _gather_axis(ctx, data, int(ctx.attrs(node).get("axis", 0)))
    if ctx.const(data) is not None:
        ctx.fail("GatherElements of a constant by computed indices is not supported")
    n = ctx.shape(data)[axis]
    line = np.moveaxis(indices, axis, 0).reshape(indices.shape[axis], -1)
    same_shape = all(i == d for k, (i, d) in enumerate(zip(indices.shape, ctx.shape(data))) if k != axis)
    if not same_shape or not np.all(line == line[:, :1]):
        ctx.fail("GatherElements whose indices vary across the other axes is not supported")
    positions = line[:, 0]
    if np.any(positions < -n) or np.any(positions >= n):
        ctx.fail("indices are out of range for axis %d of size %d" % (axis, n))
    if ctx.batch_axis(data) == axis:
        ctx.fail("gathering along the batch axis is not supported")
    take(ctx, data, axis, np.where(positions < 0, positions + n, positions).tolist(), y)


def _slice_positions(ctx, node):
    """[(axis, positions)] of Slice, ONNX clamping rules, any non-zero steps (opset 1-21)."""
    x = node.input[0]
    shape = ctx.shape(x)
    a = ctx.attrs(node)
    if "starts" in a:      # opset < 10
        starts, ends = list(a["starts"]), list(a["ends"])
        axes, steps = list(a.get("axes", range(len(starts)))), [1] * len(starts)
    else:
        starts = [int(v) for v in ctx.const_input(node, 1).ravel()]
        ends = [int(v) for v in ctx.const_input(node, 2).ravel()]
        axes = [int(v) for v in ctx.const_input(node, 3, range(len(starts))).ravel()]
        steps = [int(v) for v in ctx.const_input(node, 4, [1] * len(starts)).ravel()]
    if not len(starts) == len(ends) == len(axes) == len(steps):
        ctx.fail("starts, ends, axes and steps have different lengths")
    out = []
    for axis, start, end, step in zip(axes, starts, ends, steps):
        axis = _gather_axis(ctx, x, axis)
        n = shape[axis]
        if step == 0:
            ctx.fail("Slice step 0 on axis %d" % axis)
        start, end = (start + n if start < 0 else start), (end + n if end < 0 else end)
        if step > 0:
            start, end = min(max(start, 0), n), min(max(end, 0), n)
        else:
            start, end = min(max(start, 0), n - 1), min(max(end, -1), n - 1)
        out.append((axis, list(range(start, end, step))))
    return out


@converter("Slice")
def slice_(ctx, node):
    """Step-1 slices of several axes: one Crop (numpy-style starts/ends/axes); other steps: take()."""
    x, y = node.input[0], node.output[0]
    b = ctx.batch_axis(x)
    shape = ctx.shape(x)
    cuts = [(axis, p) for axis, p in _slice_positions(ctx, node) if p != list(range(shape[axis]))]
    if any(axis == b for axis, _ in cuts):
        ctx.fail("slicing the batch axis is not supported")
    if any(not p for _, p in cuts):
        ctx.fail("Slice gives an empty tensor (ncnn blobs are never empty)")
    simple = [(axis, p) for axis, p in cuts if p == list(range(p[0], p[-1] + 1))]
    if not cuts:
        return ctx.alias(y, x)
    if len(simple) == len(cuts):
        ctx.add("Crop", [ctx.blob(x)], [y], {9: [p[0] for _, p in cuts], 10: [p[-1] + 1 for _, p in cuts],
                                             11: [ctx.axis(x, axis) for axis, _ in cuts]})
        return
    take_axes(ctx, x, y, cuts)


def take_axes(ctx, x, y, cuts):
    """y = x with positions taken along each (ONNX axis, positions) of cuts, one axis after another."""
    b = ctx.batch_axis(x)
    current, now = x, list(ctx.shape(x))
    for k, (axis, positions) in enumerate(cuts):
        now[axis] = len(positions)
        top = y if k == len(cuts) - 1 else ctx.fresh(y + "_axis%d" % axis, now)
        ctx.set_batch_axis(top, b)
        take(ctx, current, axis, positions, top)
        current = top
