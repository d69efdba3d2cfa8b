from setuptools import Extension, setup

# Two small compiled kernels, both optional: without a C compiler the package still installs, and
# the same results come from numpy/OpenCV (calibration's histogram, ncnnlike/quant/bins.py) and
# pure Python (model-optimize's flush check, ncnnlike/io/stored.py), only slower.
FLAGS = ["-O3", "-std=c99"]
setup(ext_modules=[Extension("ncnnlike.quant._bins", ["ncnnlike/quant/_bins.c"], optional=True, extra_compile_args=FLAGS),
                   Extension("ncnnlike.io._flush", ["ncnnlike/io/_flush.c"], optional=True, extra_compile_args=FLAGS)])
