"""Start-up: each console script imports only what it uses. model-optimize and model2int8 never
import onnx (about a second on a loaded machine: ml_dtypes) nor onnxruntime nor OpenCV; model2table
builds its runtime graph without onnx either (layers/onnx_bytes.py)."""
import os
import subprocess
import sys

import pytest

from helpers import REFERENCE, REPO

TINY = os.path.join(REFERENCE, "tiny")
HEAVY = ("onnx", "onnxruntime", "cv2", "ml_dtypes", "ncnn")

CHILD = """
import sys
from ncnnlike.cli.%s import main
code = main(sys.argv[1:])
print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & set(%r))))
sys.exit(code)
"""


def imported(script, args):
    out = subprocess.run([sys.executable, "-c", CHILD % (script, HEAVY)] + args, capture_output=True, text=True,
                         cwd=REPO)
    assert out.returncode == 0, out.stderr[-1500:]
    return set(out.stdout.split())


def test_model_optimize_imports_no_onnx_onnxruntime_or_opencv(tmp_path):
    args = [os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"),
            str(tmp_path / "o.param"), str(tmp_path / "o.bin"), "0"]
    assert imported("model_optimize", args) == set()


def test_model2int8_imports_no_onnx_onnxruntime_or_opencv(tmp_path):
    args = [os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"),
            str(tmp_path / "i.param"), str(tmp_path / "i.bin"), os.path.join(TINY, "tiny-kl.table")]
    assert imported("model2int8", args) == set()


@pytest.mark.parametrize("method", ["kl", "aciq"])
def test_model2table_runs_onnxruntime_without_importing_onnx(tmp_path, method):
    args = [os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"),
            os.path.join(TINY, "calib20-png.txt"), str(tmp_path / "t.table"), "mean=[104,117,123]",
            "norm=[0.017,0.017,0.017]", "shape=[32,32,3]", "pixel=BGR", "thread=2", "method=" + method]
    assert imported("model2table", args) == {"onnxruntime", "cv2"}
