"""A Python that runs this checkout as a regular install would, for start-up benchmarks.

This development environment starts every Python process through its site-packages' .pth hooks: an
editable-install finder for ncnnlike (~15 ms) and a hook this sandbox adds to patch certifi (~13 ms,
importing pathlib, tempfile and re). A user's `pip install ncnnlike` in a virtual environment runs
neither. `clean_python(folder)` builds that user's layout: a fresh venv (no pip), this checkout's
`ncnnlike` package copied into its site-packages and compiled to bytecode (as pip does), and one .pth
line per site-packages folder of this interpreter, so that numpy, onnxruntime and the rest are found
without executing those folders' own .pth files. Returns the venv's python.
"""
import compileall
import os
import shutil
import site
import subprocess
import sys
import sysconfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _site_packages(venv):
    """The venv's purelib folder."""
    return sysconfig.get_path("purelib", vars={"base": venv, "platbase": venv})


def clean_python(folder):
    """Path of a python in `folder`/venv that imports ncnnlike from a regular (copied, compiled)
    install of this checkout and the other packages from this interpreter's site-packages."""
    venv = os.path.join(folder, "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    target = _site_packages(venv)
    os.makedirs(target, exist_ok=True)
    shutil.copytree(os.path.join(REPO, "ncnnlike"), os.path.join(target, "ncnnlike"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    saved, sys.pycache_prefix = sys.pycache_prefix, None    # bytecode beside the sources, as pip puts it
    try:
        compileall.compile_dir(os.path.join(target, "ncnnlike"), quiet=1)
    finally:
        sys.pycache_prefix = saved
    folders = [p for p in dict.fromkeys(site.getsitepackages()) if os.path.isdir(p)]
    with open(os.path.join(target, "dependencies.pth"), "w") as f:
        f.write("".join(p + "\n" for p in folders))
    python = os.path.join(venv, "bin", "python")
    return python if os.path.exists(python) else os.path.join(venv, "Scripts", "python.exe")
