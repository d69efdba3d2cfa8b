"""Prototype int8 depthwise kernel for tools/proto_dw_int8.py, compiled by numba (a registry wheel):
a measurement aid, not package code. numba compiles at run time into executable memory that it
maps itself, which the runtime must never do (tests/runtime/test_no_executable_memory.py).

One Lite0 depthwise layer, NHWC, as the fast path carries int8 (uint8 q+128): the input is copied
into a buffer padded with q = 0 (ncnn's int8 pad value 0), then every output is
    s = sum over taps of q_in * w  (int16 products, summed two by two in int16, exact: |q*w| <= 16129)
    v = float(s) * scale_in[c] + bias[c]; v = clamp(v, act_lo, act_hi)   (ReLU6 on Lite0)
    q = clamp(trunc(v * s_top + copysign(0.5, .)), -127, 127)            (ncnn's float2int8)
in float32 as ncnn's x86 depthwise kernel does it (scale_in already holds its rcp), so the result
is ncnn's, not the fast path's rounded-bias approximation. Taps are unrolled per kernel size
(generated source) so that LLVM keeps the sum in registers and vectorizes over channels. Two loop
orders: "flat" (stride 1: output row as one run of OW*C values, weights tiled along the row) and
"pixel" (any stride: one output pixel at a time, channels innermost); DW picks the faster.
"""
import time

import numba
import numpy as np

REQUANT = """
{i}v = np.float32(s) * scale[{j}] + bias[{j}]
{i}v = min(max(v, act_lo), act_hi)
{i}t = v * s_top
{i}t = t + half if t >= np.float32(0) else t - half
{i}q = min(max(np.int32(t), np.int32(-127)), np.int32(127))
"""

PIXEL = """
def kernel(xp, CC, w, scale, bias, act_lo, act_hi, s_top, sh, sw, out):
    OH, OW, C = out.shape
    half = np.float32(0.5)
    for oy in range(OH):
        iy = oy * sh
        for ox in range(OW):
            ix = ox * sw
            for c in range(C):
                s = np.int32(0)
{adds}
{requant}
                out[oy, ox, c] = np.uint8(q + np.int32(128))
"""

FLAT = """
def kernel(xp, CC, w, scale, bias, act_lo, act_hi, s_top, sh, sw, out):
    OH, OWC = out.shape
    half = np.float32(0.5)
    for oy in range(OH):
{rows}
        o = out[oy]
        for j in range(OWC):
            s = np.int32(0)
{adds}
{requant}
            o[j] = np.uint8(q + np.int32(128))
"""


def _sum(terms, indent):
    """Source adding the int16 tap products two by two into the int32 s."""
    lines = []
    for i in range(0, len(terms), 2):
        pair = terms[i:i + 2]
        expr = pair[0] if len(pair) == 1 else "np.int16(%s + %s)" % tuple(pair)
        lines.append(" " * indent + "s = np.int32(s + %s)" % expr)
    return "\n".join(lines)


def make_kernel(kh, kw, flat):
    """The numba kernel for a kh x kw depthwise conv (see the module docstring)."""
    taps = [(ky * kw + kx, ky, kx) for ky in range(kh) for kx in range(kw)]
    q = "np.int16(np.int16({x}) * w[{k}, {j}])"
    if flat:
        rows = "\n".join("        r%d_%d = xp[oy + %d, %d * CC:]" % (ky, kx, ky, kx) for _, ky, kx in taps)
        adds = _sum([q.format(x="r%d_%d[j]" % (ky, kx), k=k, j="j") for k, ky, kx in taps], 12)
        src = FLAT.format(rows=rows, adds=adds, requant=REQUANT.format(i=" " * 12, j="j"))
    else:
        adds = _sum([q.format(x="xp[iy + %d, ix + %d, c]" % (ky, kx), k=k, j="c") for k, ky, kx in taps], 16)
        src = PIXEL.format(adds=adds, requant=REQUANT.format(i=" " * 16, j="c"))
    namespace = {"np": np}
    exec(compile(src, "<dw %dx%d %s>" % (kh, kw, "flat" if flat else "pixel"), "exec"), namespace)
    return numba.njit(nogil=True, boundscheck=False, error_model="numpy")(namespace["kernel"])


@numba.njit(nogil=True, boundscheck=False)
def copy_in(x, xp, pt, col):
    """x (H, W*C) uint8 q+128 into the padded int8 (HP, WP*C) buffer as q, from row pt, column col."""
    h, wc = x.shape
    for y in range(h):
        src = x[y]
        dst = xp[pt + y, col:col + wc]
        for i in range(wc):
            dst[i] = np.int8(src[i] ^ np.uint8(128))


_KERNELS = {}


def kernel_for(kh, kw, flat):
    if (kh, kw, flat) not in _KERNELS:
        _KERNELS[(kh, kw, flat)] = make_kernel(kh, kw, flat)
    return _KERNELS[(kh, kw, flat)]


class DW:
    """One requantizing depthwise layer (an int8.Int8Layer with ReLU6/Clip or no activation):
    dw(x, out) with x (1, H, W, C) and out (1, OH, OW, C) uint8 q+128."""

    def __init__(self, L, in_shape, top, pads, strides, flat=None):
        c, h, w = in_shape
        _, oh, ow = top
        kh, kw = L.weight.shape[2:]
        self.c, self.sh, self.sw, self.pt, self.pl = c, strides[0], strides[1], pads[0], pads[1]
        hp, wp = max(h + self.pt, (oh - 1) * self.sh + kh), max(w + self.pl, (ow - 1) * self.sw + kw)
        self.xp = np.zeros((hp, wp * c), np.int8)
        self.in2, self.out2, self.out3 = (h, w * c), (oh, ow * c), (oh, ow, c)
        weight = np.ascontiguousarray(L.weight.reshape(c, kh * kw).T, np.int16)
        bias = (np.zeros(c) if L.bias is None else L.bias).astype(np.float32)
        lo, hi = (L.activation_params[:2] if L.activation_type == 3 else
                  (0, np.inf) if L.activation_type == 1 else (-np.inf, np.inf))
        self.act = (np.float32(lo), np.float32(hi), np.float32(L.s_top))
        self.variants = {False: (kernel_for(kh, kw, False), self.xp.reshape(hp, wp, c), weight,
                                 L.scale_in.astype(np.float32), bias)}
        if self.sw == 1:
            self.variants[True] = (kernel_for(kh, kw, True), self.xp, np.ascontiguousarray(np.tile(weight, (1, ow))),
                                   np.tile(L.scale_in.astype(np.float32), ow), np.tile(bias, ow))
        self.flat = self._fastest() if flat is None else flat and self.sw == 1

    def _fastest(self, calls=20):
        """The faster loop order on this layer (median CPU time of `calls` calls each)."""
        x = np.full((1,) + self.in2, 128, np.uint8)
        out = np.empty(self.out2, np.uint8)
        times = {}
        for flat in self.variants:
            self.flat = flat
            self(x, out)
            runs = []
            for _ in range(calls):
                t0 = time.process_time()
                self(x, out)
                runs.append(time.process_time() - t0)
            times[flat] = np.median(runs)
        return min(times, key=times.get)

    def __call__(self, x, out):
        copy_in(x.reshape(self.in2), self.xp, self.pt, self.pl * self.c)
        kernel, xp, w, scale, bias = self.variants[self.flat]
        y = out.reshape(self.out2 if self.flat else self.out3)
        kernel(xp, self.c, w, scale, bias, *self.act, self.sh, self.sw, y)
