"""StatisticsPooling against pip ncnn: per-channel mean (and population std), a 1-D output of c or
2c values; 1-D and 2-D blobs are one channel.

Tolerance 1e-6 abs: float32 sums in a different order (measured <= 2.4e-7).
"""
import numpy as np
import pytest
from oracle import check_ncnn

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(12,), (3, 4), (3, 4, 5), (2, 3, 4, 5), (64, 40)])
@pytest.mark.parametrize("params,per_channel", [("", 1), ("0=1", 2)])
def test_statisticspooling_matches_ncnn(tmp_path, shape, params, per_channel):
    x = (RNG.standard_normal(shape) * 3 + 1).astype(np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nStatisticsPooling s 1 1 x y " + params, {"x": x}, tmp_path,
                         atol=1e-6, rtol=1e-6)["y"]
    c = shape[0] if len(shape) >= 3 else 1
    assert ours.shape[1:] == (c * per_channel,)
