"""Small models in the shapes real exporters write, through the whole flow, measured.

    python tools/onnx_zoo.py            # prints one table (the README "Supported models" figures)

Each model is built with onnx.helper (seeded weights; torch is not a dependency) the way torch's
exporters write it: an LSTM / GRU classifier with the y[:, -1] head, an Embedding + LSTM text
model, a YOLO-style detector head (3 scales, Resize + Concat neck, Sigmoid, Split, box decode),
a ViT-tiny block (patch embed, class token, attention, decomposed LayerNorm, Erf-GELU MLP) and a
segmentation decoder (ConvTranspose with output_padding, Resize). flow() runs onnx2model,
model-optimize, model2table (npy inputs, type=1) and model2int8 through their CLIs, then compares
the fp32 files with onnxruntime in our runtime and in pip ncnn, and runs the int8 files in pip ncnn.
The real PP-OCRv4 rec export over its 300 eval text lines: tools/onnx_zoo_ppocr.py.
"""
import contextlib
import io
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tools.onnx_zoo_models import MODELS  # noqa: E402


def _run_cli(main, args):
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        code = main(args)
    if code != 0:
        raise RuntimeError("%s failed: %s" % (main.__module__, log.getvalue().strip()))


def _pip_ncnn(param, binary, name, out, x, ids, int8=False):
    from tools.common import ncnn_extract, ncnn_net
    net = ncnn_net(param, binary, int8=int8)
    rows = [ncnn_extract(net, {name: (s.astype(np.int32) if ids else s)}, [out])[out] for s in x]
    return np.stack([r.ravel() for r in rows])


def _ours(param, binary, name, out, x, int8=False):
    from ncnnlike.runtime import Net
    net = Net()
    net.opt.num_threads = 1
    net.opt.use_int8_inference = int8
    net.load_param(param)
    net.load_model(binary)
    return net.run({name: x.astype(np.float32)}, [out])[out].reshape(len(x), -1)


def _cosine(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _int8_layers(param):
    """Layers the int8 file stores quantized: int8_scale_term (8=) of Convolution(DepthWise) /
    InnerProduct / RNN / LSTM / GRU, 18= of Embed and MultiHeadAttention."""
    from ncnnlike.io.param import read_param
    key = {"Embed": 18, "MultiHeadAttention": 18}
    types = ("Convolution", "ConvolutionDepthWise", "InnerProduct", "RNN", "LSTM", "GRU", "Embed", "MultiHeadAttention")
    return sum(1 for layer in read_param(param).layers if layer.type in types and layer.params.get(key.get(layer.type, 8), 0))


def flow(name, folder, n_eval=4, n_calib=8):
    """The whole flow on one zoo model: a dict of what was measured."""
    from ncnnlike.cli import model2int8, model2table, model_optimize, onnx2model
    from tools.common import write_npy_list
    model, feeds, ids = MODELS[name]()
    path = os.path.join(folder, name + ".onnx")
    onnx.save(model, path)
    files = {k: os.path.join(folder, "%s.%s" % (name, k)) for k in
             ("param", "bin", "opt.param", "opt.bin", "int8.param", "int8.bin", "table")}
    _run_cli(onnx2model.main, [path, files["param"], files["bin"]])
    _run_cli(model_optimize.main, [files["param"], files["bin"], files["opt.param"], files["opt.bin"], "0"])
    calib = feeds(n_calib, seed=1)
    shape = ",".join(str(s) for s in reversed(calib.shape[1:]))
    _run_cli(model2table.main, [files["opt.param"], files["opt.bin"], write_npy_list(calib, folder), files["table"],
                                "shape=[%s]" % shape, "type=1", "thread=1"])
    _run_cli(model2int8.main, [files["opt.param"], files["opt.bin"], files["int8.param"], files["int8.bin"],
                               files["table"]])
    x = feeds(n_eval, seed=2)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    iname, oname = sess.get_inputs()[0].name, sess.get_outputs()[0].name
    want = np.stack([sess.run([oname], {iname: x[i:i + 1]})[0].ravel() for i in range(len(x))])
    scale = max(1.0, float(np.abs(want).max()))
    ours = _ours(files["opt.param"], files["opt.bin"], iname, oname, x)
    real = _pip_ncnn(files["opt.param"], files["opt.bin"], iname, oname, x, ids)
    real8 = _pip_ncnn(files["int8.param"], files["int8.bin"], iname, oname, x, ids, int8=True)
    ours8 = _ours(files["int8.param"], files["int8.bin"], iname, oname, x, int8=True)
    with open(files["opt.param"]) as f:
        layers = int(f.read().split("\n")[1].split()[0])
    int8_layers = _int8_layers(files["int8.param"])
    return {"model": name, "onnx_nodes": len(model.graph.node), "ncnn_layers": layers, "int8_layers": int8_layers,
            "ours_fp32": float(np.abs(ours - want).max()) / scale, "pip_fp32": float(np.abs(real - want).max()) / scale,
            "pip_int8_cos": min(_cosine(real8[i], want[i]) for i in range(len(x))),
            "ours_int8_vs_pip": min(_cosine(real8[i], ours8[i]) for i in range(len(x))),
            "pip_int8_finite": bool(np.all(np.isfinite(real8))), "shape_ok": real8.shape == want.shape}


def main():
    print("%-16s %5s %6s %5s %14s %14s %14s %14s" % ("model", "onnx", "layers", "int8", "ours fp32", "pip ncnn fp32",
                                                    "pip int8 cos", "int8 ours~pip"))
    with tempfile.TemporaryDirectory() as folder:
        for name in MODELS:
            r = flow(name, folder)
            print("%-16s %5d %6d %5d %14.2e %14.2e %14.5f %14.6f" % (
                name, r["onnx_nodes"], r["ncnn_layers"], r["int8_layers"], r["ours_fp32"], r["pip_fp32"],
                r["pip_int8_cos"], r["ours_int8_vs_pip"]))
    print("fp32 columns: max abs diff vs onnxruntime / max(1, max |output|) over 4 inputs; "
          "int8: min cosine of pip ncnn's int8 output vs onnxruntime fp32, and vs our int8 runtime")


if __name__ == "__main__":
    main()
