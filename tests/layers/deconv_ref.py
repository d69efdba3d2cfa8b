"""numpy references shared by the Deconvolution and DeconvolutionDepthWise tests."""
import numpy as np

from helpers import layer
from ncnnlike.layers.activation import apply_fused


def ref_deconv(x, w, b, group, k, s, d, cut, out_pad, act=0, act_params=None):
    """x (n, c, h, w); w ncnn [g][outc/g][inc/g][kh][kw]; full output, bias, activation, then cut."""
    n, c, h, wd = x.shape
    outc = b.size
    og, ig = outc // group, c // group
    w = w.reshape(group, og, ig, k[0], k[1])
    fh = (h - 1) * s[0] + d[0] * (k[0] - 1) + 1 + out_pad[0]
    fw = (wd - 1) * s[1] + d[1] * (k[1] - 1) + 1 + out_pad[1]
    y = np.zeros((n, outc, fh, fw), np.float64)
    for g in range(group):
        for o in range(og):
            for q in range(ig):
                for i in range(h):
                    for j in range(wd):
                        v = x[:, g * ig + q, i, j][:, None, None] * w[g, o, q]
                        y[:, g * og + o, i * s[0]:i * s[0] + d[0] * (k[0] - 1) + 1:d[0],
                          j * s[1]:j * s[1] + d[1] * (k[1] - 1) + 1:d[1]] += v
    y = apply_fused((y + b.reshape(1, -1, 1, 1)).astype(np.float32), act, act_params)
    t, l, bo, r = cut
    return y[:, :, t:fh - bo, l:fw - r]


def deconv_layer(type_, x, outc, group, k, s, d, params, rng):
    c = x.shape[1]
    w = rng.standard_normal(outc * (c // group) * k[0] * k[1]).astype(np.float32)
    b = rng.standard_normal(outc).astype(np.float32)
    base = {0: outc, 1: k[1], 11: k[0], 2: d[1], 12: d[0], 3: s[1], 13: s[0], 5: 1, 6: w.size}
    if type_ == "DeconvolutionDepthWise":
        base[7] = group
    base.update(params)
    return layer(type_, "de", ["x"], ["y"], base, {"weight_data": w, "bias_data": b}), w, b
