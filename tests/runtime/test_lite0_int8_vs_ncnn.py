"""Oracle test: our int8 runtime against pip ncnn on EfficientNet-Lite0 int8, 400 labelled images.

The int8 model is the real ncnnoptimize'd Lite0 (lite0-opt) converted with our model2int8 API and the
real ncnn2table's kl table; both runtimes run the same files.
- use_int8_inference = "exact" gives pip ncnn's logits bit for bit (it runs pip ncnn itself);
- the default fast mode (onnxruntime's integer kernels) stays within ncnn's own answers: its logits
  are as close to pip ncnn's as pip ncnn's own are with its packed layout turned off (another
  ordinary ncnn configuration, whose depthwise kernels use 1/x where the packed ones use the CPU's
  12-bit reciprocal). Measured on the 400 images: fast mean cosine 0.99907 (min 0.9978), top-1
  agreement 99.25%, top-1 88.5% with our own depthwise and quantize kernels (layers/dw_vnni.py,
  quantize_op.py; AVX512-VNNI + VBMI), 0.99900 (min 0.9977), 98.5%, 88.75% on onnxruntime's
  kernels alone; ncnn unpacked 0.99905 (min 0.9969), 99.0%; pip ncnn's top-1 88.75%.
  Both kernel sets are tested on any CPU that runs ours: the other set is what a CPU without
  AVX512-VNNI and VBMI (an AVX2 one) runs, and it must hold there too.
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
COSINE_MARGIN, AGREEMENT_MARGIN = 2e-4, 0.01   # how much further from ncnn than ncnn unpacked is


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
def ncnn_logits(int8_model, eval_images):
    """pip ncnn's int8 logits, with its packed layout (the default) and without. One thread: its int8
    results do not depend on threads, and its OpenMP threads crawl when other jobs share the cores."""
    return {packing: common.ncnn_logits(common.ncnn_net(*int8_model, int8=True, threads=1, packing=packing),
                                        eval_images) for packing in (True, False)}


def ours(int8_model, eval_images, mode):
    """Our logits; the exact mode (pip ncnn inside) on one thread, for the same reason as above."""
    threads = 1 if mode == "exact" else 2
    return common.our_logits(common.our_net(*int8_model, int8=mode, threads=threads), eval_images, batch=100)


def closeness(logits, reference):
    cos = common.cosines(logits, reference)
    return cos.mean(), cos.min(), float(np.mean(logits.argmax(1) == reference.argmax(1)))


def test_exact_int8_equals_pip_ncnn_on_every_eval_image(int8_model, eval_images, ncnn_logits):
    np.testing.assert_array_equal(ours(int8_model, eval_images, "exact"), ncnn_logits[True])


def test_default_fast_int8_stays_within_ncnns_own_answers(int8_model, eval_images, ncnn_logits, kernels):
    fast = closeness(ours(int8_model, eval_images, True), ncnn_logits[True])
    unpacked = closeness(ncnn_logits[False], ncnn_logits[True])
    summary = "fast: mean cos %.5f min %.5f top-1 agreement %.4f; ncnn unpacked: %.5f %.5f %.4f" % (fast + unpacked)
    assert fast[0] >= unpacked[0] - COSINE_MARGIN, summary
    assert fast[1] >= unpacked[1] - 10 * COSINE_MARGIN, summary
    assert fast[2] >= unpacked[2] - AGREEMENT_MARGIN, summary
