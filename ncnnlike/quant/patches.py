"""A quantized layer as a matrix product in numpy: weight rows times input patches, per group.

Convolution, ConvolutionDepthWise and InnerProduct all compute, at each output position,
y[g, o] = W[g, o, :] . patch[g, :] + bias[g, o], then their fused activation. Written that way,
the layer's output at a sample of positions is one einsum, the same for the three types, and so
is its int8 form (ncnn's arithmetic, spec 8: the input quantized with the bottom scale, the
weights with one scale per output channel or group, products summed exactly, then rescaled).
method=auto (the output error of each candidate threshold), the rounding optimiser and bias
correction all work on these patch matrices instead of running the model.
"""
from dataclasses import dataclass

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.activation import apply_fused
from ncnnlike.layers.base import resolve
from ncnnlike.layers.convolution import pads_and_out
from ncnnlike.quant.weights import CONV_TYPES, conv_weight, is_six_bit

DEFAULT_ROWS = 4096
PATCH_BYTES = 32 << 20      # at most this many bytes of patches per layer at a time
ROW_MACS = 2e8              # and rows * K * outputs multiply-adds per evaluation of the layer


def float2int8(x):
    """ncnn's float2int8: round half away from zero, clamp to [-127, 127] (kept as float32)."""
    x = np.asarray(x, np.float32)
    return np.clip(np.trunc(x + np.copysign(np.float32(0.5), x)), -127, 127)


def fake_quant(x, scale):
    """x as the int8 layer sees it: float2int8(x * scale) / scale, in float32 (spec 8); in place on
    one new array (these run on millions of patch values per candidate threshold)."""
    scale = np.float32(scale)
    y = np.multiply(x, scale, dtype=np.float32)
    half = np.copysign(np.float32(0.5), y)
    y += half
    np.trunc(y, out=y)
    np.clip(y, -127, 127, out=y)
    y /= scale
    return y


@dataclass
class LayerGemm:
    """One conv-type layer in matrix form: weight (G, O, K), bias (G, O), fused activation, the shape
    of its weight scales as (G, O) broadcast, and the largest |int8 weight| (31 under the 6-bit rule)."""
    name: str
    type: str
    weight: np.ndarray
    bias: np.ndarray
    activation: tuple
    scale_per_group: bool
    weight_bound: int
    params: object

    @property
    def groups(self):
        return self.weight.shape[0]

    def scales(self, weight_scales):
        """The table's weight scales as a (G, O) array (per output channel, or per group)."""
        s = np.asarray(weight_scales, np.float32).reshape(-1)
        g, o, _ = self.weight.shape
        return (np.repeat(s.reshape(g, 1), o, axis=1) if self.scale_per_group else s.reshape(g, o)).astype(np.float32)

    def quantize_weight(self, weight_scales):
        """Round-to-nearest int8 weights (G, O, K) as float32, as model2int8 makes them."""
        s = self.scales(weight_scales)[:, :, None]
        return np.clip(float2int8(self.weight * s), -self.weight_bound, self.weight_bound)

    def output(self, patches, weight=None, bias=None, activate=True):
        """(R, G, O) layer output at the sampled positions: weight (G, O, K) defaults to the float one."""
        weight = self.weight if weight is None else weight
        y = gemm_rows(patches, weight)
        y += self.bias if bias is None else bias
        return apply_fused(y, *self.activation) if activate else y

    def int8_output(self, patches, q_weight, weight_scales, bottom_scale, bias=None, activate=True):
        """The int8 layer's output from float patches: input quantized with bottom_scale, weights q/s."""
        dequant = q_weight / self.scales(weight_scales)[:, :, None]
        return self.output(fake_quant(patches, bottom_scale), dequant, bias, activate)


def gemm_rows(patches, weight):
    """(R, G, O) = patches (R, G, K) times weight (G, O, K) per group: one matrix product for a plain
    convolution, an elementwise product for a depthwise one, batched products otherwise."""
    groups, outputs, _ = weight.shape
    if groups == 1:
        return (patches[:, 0, :] @ weight[0].T)[:, None, :]
    if outputs == 1:
        return np.einsum("rgk,gk->rg", patches, weight[:, 0, :])[:, :, None]
    return np.matmul(patches.transpose(1, 0, 2), weight.transpose(0, 2, 1)).transpose(1, 0, 2)


def layer_gemm(layer):
    """LayerGemm of a Convolution, ConvolutionDepthWise or InnerProduct with float weights."""
    if layer.type not in CONV_TYPES:
        raise NcnnlikeError("layer %s: type %s is not a Convolution, ConvolutionDepthWise or InnerProduct"
                            % (layer.name, layer.type))
    p = resolve(layer)
    w = conv_weight(layer)
    groups = p.group if layer.type == "ConvolutionDepthWise" else 1
    if p.num_output <= 0 or groups <= 0 or p.num_output % groups or w.size % p.num_output:
        raise NcnnlikeError("layer %s: %d weights do not split into %d outputs in %d groups"
                            % (layer.name, w.size, p.num_output, groups))
    weight = w.reshape(groups, p.num_output // groups, -1)
    bias = layer.weight("bias_data") if p.bias_term else np.zeros(p.num_output, np.float32)
    return LayerGemm(layer.name, layer.type, weight, bias.reshape(groups, -1).astype(np.float32),
                     (p.activation_type, p.activation_params), layer.type == "ConvolutionDepthWise",
                     31 if is_six_bit(layer) else 127, p)


def _conv_patches(gemm, x, rows, rng):
    """(R, G, K) windows of a batch of (C, H, W) blobs at R random output positions."""
    p = gemm.params
    if x.ndim != 4:
        raise NcnnlikeError("layer %s: a %s needs (c, h, w) bottoms, got shape %s"
                            % (gemm.name, gemm.type, x.shape[1:]))
    n, c, h, w = x.shape
    pads, (oh, ow) = pads_and_out(p, h, w)
    if oh <= 0 or ow <= 0:
        raise NcnnlikeError("layer %s: bottom %dx%d is smaller than the kernel" % (gemm.name, w, h))
    if any(pads):
        x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=p.pad_value)
    total = n * oh * ow
    pick = rng.choice(total, size=rows, replace=False) if rows < total else np.arange(total)
    i, rest = np.divmod(pick, oh * ow)
    oy, ox = np.divmod(rest, ow)
    win = np.empty((len(pick), c, p.kernel_h, p.kernel_w), np.float32)
    for ky in range(p.kernel_h):
        for kx in range(p.kernel_w):     # one (R, C) gather per kernel tap
            win[:, :, ky, kx] = x[i, :, oy * p.stride_h + ky * p.dilation_h, ox * p.stride_w + kx * p.dilation_w]
    return win.reshape(len(pick), gemm.groups, -1)


def _inner_patches(gemm, x, rows, rng):
    """(R, 1, K) rows of an InnerProduct's bottoms: each row of a 2-D (T, K) blob, else the whole blob."""
    k = gemm.weight.shape[2]
    flat = x.reshape(-1, k) if x.ndim == 3 and x.shape[2] == k else x.reshape(len(x), -1)
    if flat.shape[1] != k:
        raise NcnnlikeError("layer %s: bottom of %d values per sample, the weights expect %d"
                            % (gemm.name, flat.shape[1], k))
    pick = rng.choice(len(flat), size=rows, replace=False) if rows < len(flat) else np.arange(len(flat))
    return flat[pick][:, None, :]


def row_budget(gemm, rows=DEFAULT_ROWS, budget=PATCH_BYTES, macs=ROW_MACS):
    """Rows to sample so that (R, G, K) float32 patches stay within `budget` bytes and one evaluation
    of the layer within `macs` multiply-adds (but at least min(rows, 256) rows)."""
    g, o, k = gemm.weight.shape
    return int(max(min(rows, 256), min(rows, budget // (g * k * 4), macs // (g * o * k))))


def sample_patches(gemm, x, rows=DEFAULT_ROWS, seed=0, macs=ROW_MACS):
    """(R, G, K) float32 input patches of `gemm` at up to `rows` random output positions of the
    bottom samples x (N, *blob shape), within row_budget; the same seed picks the same positions."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.float32)
    rows = row_budget(gemm, rows, macs=macs)
    if gemm.type == "InnerProduct":
        return _inner_patches(gemm, x, rows, rng)
    return np.ascontiguousarray(_conv_patches(gemm, x, rows, rng), np.float32)
