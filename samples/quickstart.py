"""The sample flow end to end on EfficientNet-Lite0: import, optimize, calibrate, convert, evaluate.

Every step runs the real console command (as a user would), then the float and int8 models are
scored on the 20 sample images with our runtime, and, when pip `ncnn` is installed, with the real
ncnn runtime too. Outputs go to samples/out/.
"""
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")
IMAGES = os.path.join(HERE, "images")
PREP = dict(mean="[127,127,127]", norm="[0.0078125,0.0078125,0.0078125]", shape="[224,224,3]", pixel="RGB")


def step(title, module, *args):
    """Run one console command (python -m, so it works before the scripts are on PATH)."""
    cmd = [sys.executable, "-m", "ncnnlike.cli." + module, *args]
    print("\n$ %s %s" % (module.replace("_", "-"), " ".join(os.path.relpath(a, os.getcwd()) if os.path.exists(a) else a
                                                              for a in args)), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    print("  %s: %.2f s" % (title, time.perf_counter() - t0), flush=True)


def labelled_images():
    with open(os.path.join(IMAGES, "labels.txt")) as f:
        rows = [line.split() for line in f if line.strip()]
    return [os.path.join(IMAGES, name) for name, _ in rows], np.array([int(label) for _, label in rows])


def score(param, binfile, paths, int8):
    """Top-1 predictions of a model on the images (our runtime), with model2table's preprocessing."""
    import ncnnlike
    from ncnnlike.quant.images import load_image
    net = ncnnlike.Net()
    net.opt.num_threads = 2
    net.opt.use_int8_inference = int8
    net.load_param(param)
    net.load_model(binfile)
    batch = np.stack([load_image(p, 224, 224, "RGB", [127] * 3, [0.0078125] * 3) for p in paths])
    name_in, name_out = net.input_names()[0], net.output_names()[0]
    return net.run({name_in: batch}, [name_out])[name_out], batch


def main():
    os.makedirs(OUT, exist_ok=True)
    paths, labels = labelled_images()
    listfile = os.path.join(OUT, "images.txt")
    with open(listfile, "w") as f:
        f.write("\n".join(paths) + "\n")
    o = lambda name: os.path.join(OUT, name)  # noqa: E731
    step("import", "onnx2model", os.path.join(HERE, "efficientnet-lite0.onnx"), o("lite0.param"), o("lite0.bin"))
    step("optimize", "model_optimize", o("lite0.param"), o("lite0.bin"), o("opt.param"), o("opt.bin"), "0")
    step("calibrate", "model2table", o("opt.param"), o("opt.bin"), listfile, o("lite0.table"),
         *["%s=%s" % kv for kv in PREP.items()], "thread=2", "method=kl")
    step("convert", "model2int8", o("opt.param"), o("opt.bin"), o("int8.param"), o("int8.bin"), o("lite0.table"))
    step("compare", "model_compare", o("opt.param"), o("opt.bin"), o("int8.param"), o("int8.bin"), listfile,
         *["%s=%s" % kv for kv in PREP.items()], "thread=2", "--plot", o("snr.png"))
    fp32, batch = score(o("opt.param"), o("opt.bin"), paths, False)
    int8, _ = score(o("int8.param"), o("int8.bin"), paths, True)
    cos = np.sum(fp32 * int8, 1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(int8, axis=1)
    print("\nOn the %d sample images (calibrated on the same images: a smoke test, not an evaluation):" % len(paths))
    print("  fp32 top-1 %.0f%%, int8 top-1 %.0f%%, top-1 agreement %.0f%%, mean logit cosine %.4f"
          % (100 * np.mean(fp32.argmax(1) == labels), 100 * np.mean(int8.argmax(1) == labels),
             100 * np.mean(fp32.argmax(1) == int8.argmax(1)), cos.mean()))
    print("  .bin sizes: fp32 %.1f MB, int8 %.1f MB"
          % (os.path.getsize(o("opt.bin")) / 1e6, os.path.getsize(o("int8.bin")) / 1e6))
    try:
        import ncnn
    except ImportError:
        print("  (pip ncnn not installed: skipping the check in the real ncnn runtime)")
        return
    real = []
    net = ncnn.Net()
    net.opt.num_threads = 2
    net.opt.use_int8_inference = True
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    net.load_param(o("int8.param"))
    net.load_model(o("int8.bin"))
    for x in batch:
        ex = net.create_extractor()
        ex.input(net.input_names()[0], ncnn.Mat(np.ascontiguousarray(x)).clone())  # clone: ncnn works in place
        _, out = ex.extract(net.output_names()[0])
        real.append(np.array(out).reshape(-1).copy())
        del out, ex   # before the net: their memory belongs to its allocator
    real = np.stack(real)
    cos = np.sum(real * int8, 1) / np.linalg.norm(real, axis=1) / np.linalg.norm(int8, axis=1)
    print("  real ncnn on our int8 files vs our int8 runtime: mean cosine %.5f, top-1 agreement %.0f%%"
          % (cos.mean(), 100 * np.mean(real.argmax(1) == int8.argmax(1))))


if __name__ == "__main__":
    main()
