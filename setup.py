from setuptools import Extension, setup

# Five small compiled kernels, all optional: without a C compiler the package still installs, and
# the same results come from numpy/OpenCV (calibration's histogram, ncnnlike/quant/bins.py; its
# image resize, ncnnlike/quant/resize.py; KL's curve estimate, ncnnlike/quant/methods/kl_bound.py),
# pure Python (model-optimize's flush check, ncnnlike/io/stored.py), only slower, and onnxruntime's
# QLinearConv (the fast int8 depthwise kernel, ncnnlike/layers/dw_vnni.py: within one step of ncnn),
# and calibration reduces its blobs with onnxruntime's ops or in numpy (ncnnlike/quant/probes.py).
FLAGS = ["-O3", "-std=c99"]
BUFFER = ["ncnnlike/_buffer.h"]       # their shared argument check
BINS = ["ncnnlike/quant/_bins_kernel.h"]   # the histogram kernel, shared by _bins and the Histogram op
setup(ext_modules=[Extension("ncnnlike.quant._bins", ["ncnnlike/quant/_bins.c"], depends=BUFFER + BINS, optional=True,
                             extra_compile_args=FLAGS),
                   Extension("ncnnlike.quant._resize", ["ncnnlike/quant/_resize.c"], depends=BUFFER, optional=True,
                             extra_compile_args=FLAGS),
                   Extension("ncnnlike.quant.methods._klest", ["ncnnlike/quant/methods/_klest.c"], depends=BUFFER,
                             optional=True, extra_compile_args=FLAGS + ["-fno-math-errno"]),
                   Extension("ncnnlike.io._flush", ["ncnnlike/io/_flush.c"], optional=True, extra_compile_args=FLAGS),
                   Extension("ncnnlike.layers._dw_vnni", ["ncnnlike/layers/_dw_vnni.c"],
                             depends=BUFFER + BINS + ["ncnnlike/layers/" + h for h in (
                                 "_dw_vnni_kernel.h", "_quantize_op.h", "_pw_vnni_kernel.h", "_pointwise_op.h",
                                 "_histogram_op.h", "_extrema_op.h")], optional=True,
                             extra_compile_args=FLAGS)])
