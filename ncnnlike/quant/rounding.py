"""Weight rounding chosen to minimise a layer's output error on calibration data (AdaRound-style).

model2int8 rounds every weight to the nearest int8 step. AdaRound (Nagel et al. 2020) instead
rounds each weight up or down so that the layer's pre-activation output on calibration inputs stays
closest to the float layer's; with the int8 input x~ (quantized with the table's bottom scale) and
the float input x, output channel o of group g minimises

    E[(w~ . x~ - w . x)^2] = w~^T A w~ - 2 w~^T t + const,   A = E[x~ x~^T],  t = E[x~ (w . x)]

over w~ = q / s with q in {floor(w s), ceil(w s)} (and |q| within the layer's int8 bound: 127, or
31 under the 6-bit rule). AdaRound relaxes the choice with a rectified sigmoid and gradient descent;
here the quadratic is small enough to solve the binary problem directly by exact coordinate
descent: sweep over the K weight positions, flip a weight's rounding wherever that lowers the
objective (the change is d*g_k + d^2*A_kk for a step d, with the gradient g kept up to date), for
all output channels at once. Start at round-to-nearest, so the result is never worse on the samples.
Bounded: at most `sweeps` sweeps and `seconds` per layer. A layer with fewer sampled rows than
2*K is left at nearest rounding (the fit would follow the few samples, not the data).
"""
import time
from dataclasses import dataclass

import numpy as np

from ncnnlike.quant.patches import fake_quant

SWEEPS = 4
SECONDS = 10.0
MIN_ROWS_PER_WEIGHT = 2


@dataclass
class RoundingResult:
    """Chosen int8 weights (G, O, K) as float32 integers, and the objective before and after (the
    mean squared pre-activation output error per output value on the samples), with the work done."""
    q_weight: np.ndarray
    error_nearest: float
    error: float
    sweeps: int
    flips: int
    skipped: str = None


def _moments(patches, weight, bottom_scale):
    """A = E[x~ x~^T] (G, K, K), t = E[x~ (w . x)] (G, O, K) over the sampled rows, and the sum over
    outputs of E[(w . x)^2] (the objective's constant)."""
    rows = len(patches)
    quantized = fake_quant(patches, bottom_scale).astype(np.float64)
    target = np.einsum("rgk,gok->rgo", patches.astype(np.float64), weight, optimize=True)
    a = np.einsum("rgk,rgl->gkl", quantized, quantized, optimize=True) / rows
    t = np.einsum("rgk,rgo->gok", quantized, target, optimize=True) / rows
    energy = float(np.sum(np.square(target))) / rows
    return a, t, energy


def _objective(a, t, w):
    """w^T A w - 2 w^T t per channel, summed (the constant E[(w.x)^2] left out)."""
    return float(np.einsum("gok,gkl,gol->", w, a, w, optimize=True) - 2 * np.einsum("gok,gok->", w, t))


def optimise_rounding(gemm, patches, weight_scales, bottom_scale, sweeps=SWEEPS, seconds=SECONDS):
    """RoundingResult for one layer (quant/patches.LayerGemm) on its sampled input patches."""
    scales = gemm.scales(weight_scales).astype(np.float64)[:, :, None]
    w = gemm.weight.astype(np.float64)
    bound = gemm.weight_bound
    q = gemm.quantize_weight(weight_scales).astype(np.float64)
    a, t, energy = _moments(patches, w, bottom_scale)
    rows, k = len(patches), w.shape[2]
    outputs = w.shape[0] * w.shape[1]
    start = (_objective(a, t, q / scales) + energy) / outputs
    if rows < MIN_ROWS_PER_WEIGHT * k:
        return RoundingResult(q.astype(np.float32), start, start, 0, 0,
                              "%d sampled rows for %d weights per output" % (rows, k))
    ws = w * scales
    low = np.clip(np.floor(ws), -bound, bound)
    high = np.clip(np.ceil(ws), -bound, bound)
    current = q / scales
    grad = 2 * (np.einsum("gkl,gol->gok", a, current, optimize=True) - t)
    deadline = time.perf_counter() + seconds
    flips, done = 0, 0
    for done in range(1, sweeps + 1):
        changed = 0
        for j in range(k):
            qj = q[:, :, j]
            other = np.where(qj == low[:, :, j], high[:, :, j], low[:, :, j])
            step = (other - qj) / scales[:, :, 0]
            gain = step * grad[:, :, j] + step * step * a[:, j, j][:, None]
            take = (gain < -1e-12 * max(energy, 1e-30)) & (other != qj)
            if not take.any():
                continue
            step = np.where(take, step, 0.0)
            q[:, :, j] = np.where(take, other, qj)
            grad += 2 * step[:, :, None] * a[:, j, :][:, None, :]
            changed += int(take.sum())
        flips += changed
        if not changed or time.perf_counter() > deadline:
            break
    end = (_objective(a, t, q / scales) + energy) / outputs
    return RoundingResult(q.astype(np.float32), start, end, done, flips)
