"""Oracle test: our int8 runtime against pip ncnn on EfficientNet-Lite0 int8, 400 labelled images.

The int8 model is the real ncnnoptimize'd Lite0 (lite0-opt) converted with our model2int8 API and the
real ncnn2table's kl table; both runtimes run the same files. DESIGN quality bar: int8 outputs match
pip ncnn with cosine >= 0.999 per image and top-1 agreement >= 99.5%.
"""
import os
import sys

import numpy as np
import pytest

from helpers import REPO, REFERENCE

sys.path.insert(0, REPO)
from tools import common  # noqa: E402

ncnn = pytest.importorskip("ncnn")
LITE0 = os.path.join(REFERENCE, "lite0")
MIN_COSINE, MIN_AGREEMENT = 0.999, 0.995


@pytest.fixture(scope="module")
def int8_model(tmp_path_factory):
    """lite0-opt + lite0-kl.table through our model2int8 (quant.convert): (param, bin)."""
    folder = tmp_path_factory.mktemp("lite0_int8")
    return common.make_int8(os.path.join(LITE0, "lite0-kl.table"), str(folder / "int8.param"),
                            str(folder / "int8.bin"), os.path.join(LITE0, "lite0-opt.param"),
                            os.path.join(LITE0, "lite0-opt.bin"))


@pytest.fixture(scope="module")
def eval_images():
    """The 400 eval.txt images with the README preprocessing, (400, 3, 224, 224)."""
    return common.eval_inputs(common.list_paths("eval.txt"), threads=2)


@pytest.fixture(scope="module")
def logits(int8_model, eval_images):
    """(ours, pip ncnn) int8 logits on the eval images. pip ncnn runs one thread: its int8 results do
    not depend on threads, and its OpenMP threads slow down 5x when other jobs share the 2 cores."""
    ours = common.our_logits(common.our_net(*int8_model, int8=True, threads=2), eval_images, batch=100)
    theirs = common.ncnn_logits(common.ncnn_net(*int8_model, int8=True, threads=1), eval_images)
    return ours, theirs


def test_lite0_int8_logits_match_pip_ncnn_cosine_per_image(logits):
    ours, theirs = logits
    cos = common.cosines(ours, theirs)
    worst = int(cos.argmin())
    assert cos.min() >= MIN_COSINE, "min cosine %.5f (image %d), mean %.5f, %d images below %.3f" % (
        cos.min(), worst, cos.mean(), int((cos < MIN_COSINE).sum()), MIN_COSINE)


def test_lite0_int8_top1_agrees_with_pip_ncnn(logits):
    ours, theirs = logits
    agreement = float(np.mean(ours.argmax(1) == theirs.argmax(1)))
    assert agreement >= MIN_AGREEMENT, "top-1 agreement %.4f < %.3f" % (agreement, MIN_AGREEMENT)
