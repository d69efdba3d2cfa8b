"""Shared helpers for the Lite0 tools and oracle tests: paths, the evaluation preprocessing, our
int8 conversion, running a model in our runtime or in pip ncnn, and the accuracy metrics.

Evaluation preprocessing is ../shared/data/README.md "Model preprocessing" exactly (cv2 decode,
RGB, short side 256 INTER_LINEAR, centre crop 224, (x - 127) / 128); calibration instead uses
model2table's own ncnn preprocessing (CALIB_OPTIONS), as the real ncnn tables were made with it.
"""
import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared")
LITE0 = os.path.join(SHARED, "reference", "lite0")
SAMPLE = os.path.join(SHARED, "data", "imagenet-sample")
FP32_PARAM = os.path.join(LITE0, "lite0-opt.param")
FP32_BIN = os.path.join(LITE0, "lite0-opt.bin")
INPUT, OUTPUT = "in0", "out0"
CALIB_OPTIONS = ["mean=[127,127,127]", "norm=[0.0078125,0.0078125,0.0078125]", "shape=[224,224,3]",
                 "pixel=RGB"]
SHORT_SIDE, CROP = 256, 224


def eval_input(path):
    """README preprocessing: RGB, short side 256 (INTER_LINEAR), centre crop 224, (x-127)/128 -> (3,224,224)."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError("cannot read image %s" % path)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    short = min(h, w)
    new_w, new_h = (SHORT_SIDE, round(h * SHORT_SIDE / w)) if w == short else (round(w * SHORT_SIDE / h), SHORT_SIDE)
    rgb = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, left = (new_h - CROP) // 2, (new_w - CROP) // 2
    crop = rgb[top:top + CROP, left:left + CROP].astype(np.float32)
    return np.ascontiguousarray(((crop - 127) / 128).transpose(2, 0, 1))


def list_paths(name, limit=None):
    """Absolute image paths of a list in imagenet-sample (calib.txt, eval.txt), first `limit` only."""
    with open(os.path.join(SAMPLE, name)) as f:
        paths = [os.path.join(SAMPLE, line.strip()) for line in f if line.strip()]
    return paths[:limit] if limit else paths


def labels_for(paths):
    """Class index of each image from labels.txt (`<file> <class>`)."""
    with open(os.path.join(SAMPLE, "labels.txt")) as f:
        table = dict(line.split() for line in f if line.strip())
    return np.array([int(table[os.path.basename(p)]) for p in paths])


def eval_inputs(paths, threads=2):
    """(N, 3, 224, 224) float32 of eval_input over `paths` (cv2 releases the GIL: threaded)."""
    with ThreadPoolExecutor(max(1, threads)) as pool:
        return np.stack(list(pool.map(eval_input, paths)))


def write_list(paths, folder, name="list.txt"):
    """A model2table list file of absolute paths in `folder`; returns its path."""
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write("\n".join(paths) + "\n")
    return path


def write_npy_list(samples, folder):
    """calib<i>.npy (float32) per sample in `folder` and the model2table list naming them, calib.txt
    (model2table type=1); returns the list's path."""
    paths = []
    for i, sample in enumerate(samples):
        paths.append(os.path.join(folder, "calib%d.npy" % i))
        np.save(paths[-1], np.ascontiguousarray(sample, np.float32))
    return write_list(paths, folder, "calib.txt")


def make_int8(table_path, out_param, out_bin, param=FP32_PARAM, binfile=FP32_BIN):
    """Our model2int8 (quant.convert.quantize_graph, fp16 storage as the CLI default) of the fp32 model."""
    from ncnnlike.io.model import load_model, save_model
    from ncnnlike.quant.convert import quantize_graph
    from ncnnlike.quant.tablefile import read_table
    quantized, _ = quantize_graph(load_model(param, binfile), read_table(table_path))
    save_model(quantized, out_param, out_bin, fp16=True)
    return out_param, out_bin


def our_net(param, binfile, int8, threads=2):
    """Our runtime's Net for a model file pair."""
    from ncnnlike.runtime import Net
    net = Net()
    net.opt.num_threads = threads
    net.opt.use_int8_inference = int8
    net.load_param(param)
    net.load_model(binfile)
    return net


def our_logits(net, inputs, batch=50):
    """(N, 1000) logits of our runtime, batch by batch."""
    out = [net.run({INPUT: inputs[i:i + batch]}, [OUTPUT])[OUTPUT] for i in range(0, len(inputs), batch)]
    return np.concatenate(out).reshape(len(inputs), -1)


def ncnn_net(param, binfile, int8=False, threads=2, packing=True):
    """The real runtime (pip ncnn) on a model file pair with our reference settings: fp32 storage and
    arithmetic (pip ncnn defaults to fp16 storage on x86, ~1e-3 on outputs), no Vulkan. packing=False
    turns the packed layout off (pip ncnn's int8 grouped convolution is wrong with it on)."""
    import ncnn
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    net.opt.use_bf16_storage = False
    net.opt.use_int8_inference = bool(int8)     # ours may say "fast", "exact" or "sim"
    net.opt.use_packing_layout = packing
    net.opt.num_threads = threads
    if net.load_param(str(param)) != 0 or net.load_model(str(binfile)) != 0:
        raise OSError("pip ncnn cannot load %s / %s" % (param, binfile))
    return net


def ncnn_extract(net, feeds, outputs):
    """One sample through pip ncnn: feeds {blob: array without batch axis} -> {output: array}.

    The input Mats are clones: ncnn.Mat(ndarray) wraps the numpy memory without copying, and an
    in-place layer (ReLU...) writing into it crashes pip ncnn. An int32 array becomes a Mat of its
    int32 bits (4-byte elements), what ncnn's Dequantize and Requantize read as their bottom."""
    import ncnn
    ex = net.create_extractor()
    for name, value in feeds.items():
        value = np.asarray(value)
        if value.dtype == np.int32:
            value = np.ascontiguousarray(value).view(np.float32)
        ex.input(name, ncnn.Mat(np.ascontiguousarray(value, dtype=np.float32)).clone())
    results = {}
    for name in outputs:
        ret, mat = ex.extract(name)
        if ret != 0:
            raise OSError("pip ncnn cannot extract %s (status %d)" % (name, ret))
        # an empty Mat (a detection layer that found nothing): np.array() of it crashes pip ncnn
        results[name] = np.zeros((0,), np.float32) if mat.empty() else np.array(mat).copy()
    return results


def ncnn_run(net, image):
    """One (3, 224, 224) image through pip ncnn -> flat output."""
    return ncnn_extract(net, {INPUT: image}, [OUTPUT])[OUTPUT].reshape(-1)


def ncnn_logits(net, inputs):
    """(N, 1000) logits of pip ncnn, one image at a time."""
    return np.stack([ncnn_run(net, image) for image in inputs])


def cosines(a, b):
    """Row-wise cosine similarity of two (N, K) arrays, in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)


def topk_hits(logits, labels, k):
    """Fraction of rows whose label is among the k largest logits."""
    top = np.argsort(-logits, axis=1)[:, :k]
    return float(np.mean((top == labels[:, None]).any(axis=1)))


def scores(logits, labels, reference=None):
    """top1, top5, and against `reference` logits: top-1 agreement, mean and min cosine."""
    result = {"top1": topk_hits(logits, labels, 1), "top5": topk_hits(logits, labels, 5)}
    if reference is not None:
        cos = cosines(logits, reference)
        result.update(agree=float(np.mean(logits.argmax(1) == reference.argmax(1))),
                      cos_mean=float(cos.mean()), cos_min=float(cos.min()))
    return result


SIMD_FLAGS = ("sse4_2", "avx", "fma", "f16c", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
              "avx512_bf16", "avx512_fp16", "amx_int8")


def cpu_flags():
    """(CPU model name, set of /proc/cpuinfo flags); empty flags off Linux."""
    import platform
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    return model, flags


def machine_header(threads):
    """The lines every benchmark prints first: CPU model and SIMD flags, versions, load average."""
    import platform
    import onnxruntime
    model, flags = cpu_flags()
    versions = "python %s, numpy %s, onnxruntime %s" % (platform.python_version(), np.__version__,
                                                         onnxruntime.__version__)
    try:
        import ncnn
        versions += ", pip ncnn %s" % ncnn.__version__
    except ImportError:
        pass
    return ["CPU: %s, %d logical CPUs; flags: %s" % (model, os.cpu_count() or 1,
                                                     " ".join(f for f in SIMD_FLAGS if f in flags) or "(unknown)"),
            "threads: %s; %s; load average %s" % (threads, versions, "%.2f %.2f %.2f" % os.getloadavg())]


def openvino_request(path, threads):
    """An OpenVINO infer request of the ONNX file `path` on `threads` CPU threads in fp32 (one
    stream), or None without the openvino package: a reference engine, not a dependency."""
    try:
        import openvino as ov
    except ImportError:
        return None
    config = {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "INFERENCE_PRECISION_HINT": "f32"}
    core = ov.Core()
    return core.compile_model(core.read_model(path), "CPU", config).create_infer_request()
