"""Without Ray installed, workers= is one line saying how to install it, and exit status 2."""
import os
import subprocess
import sys

from helpers import REFERENCE

TINY = os.path.join(REFERENCE, "tiny")
HIDE_RAY = "import sys; sys.modules['ray'] = None; from ncnnlike.cli.%s import main; sys.exit(main(sys.argv[1:]))"


def run_without_ray(tool, args):
    return subprocess.run([sys.executable, "-c", HIDE_RAY % tool] + args, capture_output=True, text=True)


def test_model2table_workers_without_ray_says_how_to_install_it(tmp_path):
    out = run_without_ray("model2table", [os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"),
                                          os.path.join(TINY, "calib20-png.txt"), str(tmp_path / "t.table"),
                                          "shape=[32,32,3]", "workers=2"])
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.splitlines() == ["error: workers= needs Ray, an optional extra: pip install 'ncnnlike[ray]'"]
    assert not (tmp_path / "t.table").exists()


def test_model_compare_workers_without_ray_says_how_to_install_it():
    files = [os.path.join(TINY, n) for n in ("tiny-opt.param", "tiny-opt.bin", "tiny-int8.param", "tiny-int8.bin",
                                             "calib20-png.txt")]
    out = run_without_ray("model_compare", files + ["shape=[32,32,3]", "workers=2", "ray_address=auto"])
    assert out.returncode == 2
    assert out.stderr.splitlines() == ["error: workers= needs Ray, an optional extra: pip install 'ncnnlike[ray]'"]


def test_without_workers_nothing_imports_ray(tmp_path):
    out = run_without_ray("model2table", [os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"),
                                          os.path.join(TINY, "calib20-png.txt"), str(tmp_path / "t.table"),
                                          "shape=[32,32,3]", "mean=[104,117,123]", "norm=[0.017,0.017,0.017]"])
    assert out.returncode == 0 and (tmp_path / "t.table").exists()
