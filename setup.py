from setuptools import Extension, setup

# The compiled histogram step of calibration (ncnnlike/quant/bins.py). Optional: without a C
# compiler the package still installs, and calibration bins the same values with numpy and OpenCV.
setup(ext_modules=[Extension("ncnnlike.quant._bins", ["ncnnlike/quant/_bins.c"], optional=True,
                             extra_compile_args=["-O3", "-std=c99"])])
