"""Start-up: each console script imports only what it uses. model-optimize and model2int8 never
import onnx (about a second on a loaded machine: ml_dtypes) nor onnxruntime nor OpenCV; model2table
builds its runtime graph without onnx either (layers/onnx_bytes.py). model-optimize imports numpy
only when a pass changes weights (io/stored.py: the others go through as the file's bytes)."""
import os
import subprocess
import sys

import pytest

from helpers import REFERENCE, REPO

TINY = os.path.join(REFERENCE, "tiny")
LITE0 = os.path.join(REFERENCE, "lite0", "lite0-opt")   # ncnnoptimize's output; ncnnoptimize keeps it as is
HEAVY = ("onnx", "onnxruntime", "cv2", "ml_dtypes", "ncnn")

CHILD = """
import sys
from ncnnlike.cli.%s import main
code = main(sys.argv[1:])
print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & set(%r))))
sys.exit(code)
"""


def imported(script, args, modules=HEAVY):
    out = subprocess.run([sys.executable, "-c", CHILD % (script, modules)] + args, capture_output=True, text=True,
                         cwd=REPO)
    assert out.returncode == 0, out.stderr[-1500:]
    return set(out.stdout.split())


def test_model_optimize_imports_no_onnx_onnxruntime_or_opencv(tmp_path):
    args = [os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"),
            str(tmp_path / "o.param"), str(tmp_path / "o.bin"), "0"]
    assert imported("model_optimize", args) == set()


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def test_model_optimize_without_a_weight_changing_pass_imports_no_numpy_and_writes_ncnnoptimize_bytes(tmp_path):
    """Lite0's BatchNorms were folded by the exporter: no pass fires, every weight is copied as bytes
    (proved to need no denormal flush), and the files equal ncnnoptimize's byte for byte."""
    out = [str(tmp_path / "o.param"), str(tmp_path / "o.bin")]
    assert imported("model_optimize", [LITE0 + ".param", LITE0 + ".bin"] + out + ["0"], HEAVY + ("numpy",)) == set()
    assert _read(out[0]) == _read(LITE0 + ".param") and _read(out[1]) == _read(LITE0 + ".bin")


def test_model_optimize_imports_numpy_when_it_must_convert_weights(tmp_path):
    """fp16 storage (flag 1) converts every tagged weight: numpy is imported then."""
    args = [os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"),
            str(tmp_path / "o.param"), str(tmp_path / "o.bin"), "1"]
    assert imported("model_optimize", args, ("numpy",)) == {"numpy"}


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


def test_model2table_without_a_terminal_shows_no_bar_and_imports_no_tqdm(tmp_path):
    """tqdm shows nothing when stderr is no terminal (disable=None); its import alone reads the
    installed packages' metadata (~30 ms), so calibration does not import it then."""
    args = [os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"),
            os.path.join(TINY, "calib20-png.txt"), str(tmp_path / "t.table"), "shape=[32,32,3]", "method=kl"]
    assert imported("model2table", args, modules=("tqdm",)) == set()


def test_calibration_bar_is_tqdm_on_a_terminal_and_nothing_elsewhere(monkeypatch):
    from ncnnlike.quant import calibrate
    lists = [[None] * 5]
    assert isinstance(calibrate._bar(lists, "x", True), calibrate._NoBar)        # pytest's stderr: no terminal
    monkeypatch.setattr(calibrate, "_isatty", lambda stream: True)
    with calibrate._bar(lists, "x", True) as bar:
        assert type(bar).__name__ == "tqdm" and bar.total == 5
        bar.update(5)
    assert isinstance(calibrate._bar(lists, "x", False), calibrate._NoBar)


def test_in_a_regular_install_model_optimize_imports_no_dataclasses_tempfile_or_inspect(tmp_path):
    """What a user's `pip install` runs (tools/clean_install.py: a fresh venv, without this
    environment's .pth hooks, which import tempfile themselves): ncnnlike from the install, and a
    start-up without the ~15 ms of dataclasses (inspect, ast, tokenize) and tempfile (random, shutil)."""
    sys.path.insert(0, REPO)
    try:
        from tools.clean_install import clean_python
    finally:
        sys.path.remove(REPO)
    python = clean_python(str(tmp_path))
    code = CHILD % ("model_optimize", ("dataclasses", "tempfile", "inspect", "ncnnlike"))
    code = code.replace("sys.exit(code)", "import ncnnlike; print(ncnnlike.__file__)\nsys.exit(code)")
    args = [LITE0 + ".param", LITE0 + ".bin", str(tmp_path / "o.param"), str(tmp_path / "o.bin"), "0"]
    out = subprocess.run([python, "-c", code] + args, capture_output=True, text=True, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-1500:]
    modules, location = out.stdout.splitlines()
    assert modules.split() == ["ncnnlike"]
    assert location.startswith(str(tmp_path)) and _read(str(tmp_path / "o.bin")) == _read(LITE0 + ".bin")


@pytest.mark.parametrize("module", ["model_optimize", "model2int8"])
def test_console_scripts_exit_at_once_with_their_output_flushed(tmp_path, module):
    """model-optimize and model2int8's console scripts skip the interpreter's finalization
    (cli/common.exit_at_once): their files are complete, their stderr lines all there, and their exit
    status that of main()."""
    src = [os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin")]
    out = [str(tmp_path / "o.param"), str(tmp_path / "o.bin")]
    extra = ["0"] if module == "model_optimize" else [os.path.join(TINY, "tiny-kl.table")]
    run = lambda args: subprocess.run([sys.executable, "-m", "ncnnlike.cli." + module] + args, capture_output=True,
                                      text=True, cwd=REPO)
    good = run(src + out + extra)
    assert good.returncode == 0, good.stderr[-1500:]
    assert os.path.getsize(out[1]) > 0 and _read(out[0]).startswith(b"7767517\n")
    if module == "model_optimize":
        assert good.stderr.rstrip().splitlines()[-1].startswith("model-optimize: ")
    bad = run([str(tmp_path / "missing.param"), src[1]] + [str(tmp_path / "b.param"), str(tmp_path / "b.bin")] + extra)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "missing.param" in bad.stderr


BLAS_CHILD = """
import os, sys
sys.argv = ["model2table"] + sys.argv[1:]
from ncnnlike.cli import model2table
def main():
    import numpy
    print(os.environ.get("OPENBLAS_NUM_THREADS"), numpy.__name__)
    return 0
model2table.main = main
model2table.console_main()
"""


@pytest.mark.parametrize("args, env, expected", [([], None, "1"), ([], "3", "3"), (["correct=round"], None, "None")])
def test_model2table_console_script_runs_openblas_on_one_thread_unless_told(args, env, expected):
    """Its OpenBLAS threads would spin at numpy's import (cli/common.one_blas_thread): one, unless the
    user set OPENBLAS_NUM_THREADS or asks for correct= (weight rounding multiplies matrices)."""
    environ = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if env is not None:
        environ["OPENBLAS_NUM_THREADS"] = env
    out = subprocess.run([sys.executable, "-c", BLAS_CHILD] + args, capture_output=True, text=True, cwd=REPO,
                         env=environ)
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.split() == [expected, "numpy"]


def test_one_blas_thread_changes_nothing_once_numpy_is_imported(monkeypatch):
    from ncnnlike.cli.common import one_blas_thread
    import numpy  # noqa: F401
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    one_blas_thread()
    assert "OPENBLAS_NUM_THREADS" not in os.environ
