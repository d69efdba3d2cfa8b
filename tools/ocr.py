"""PP-OCRv4 rec helpers for the tools: the model in ncnn form, RapidOCR's preprocessing, greedy CTC
decoding, and the scores (../shared/data/textlines/README.md).

Preprocessing as RapidOCR feeds the model: BGR image, resize to height 48 keeping the aspect ratio
(width ceil(48*w/h), at most 320, cv2 bilinear), (x/255 - 0.5)/0.5, zero-pad the width to 320:
(3, 48, 320). Decoding: argmax per step, merge repeats, drop class 0 (blank); classes 1..6623 are the
model's `character` metadata, 6624 a space. Decoded strings are compared with leading and trailing
spaces stripped (the model reads the padding as spaces now and then; the truth has none).
"""
import math
import os
import subprocess
import sys

import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared")
ONNX = os.path.join(SHARED, "models", "ppocrv4-rec.onnx")
TEXTLINES = os.path.join(SHARED, "data", "textlines")
INPUT, HEIGHT, WIDTH = "x", 48, 320
NPY_OPTIONS = ["type=1", "shape=[%d,%d,3]" % (WIDTH, HEIGHT)]


def characters():
    """The decoding table: index 0 blank, 1..6623 the model's characters, 6624 a space."""
    import onnx
    model = onnx.load(ONNX, load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    return ["<blank>"] + meta["character"].split("\n") + [" "]


def preprocess(path):
    """RapidOCR's input for one text line image: (3, 48, 320) float32."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise OSError("cannot read image %s" % path)
    h, w = image.shape[:2]
    width = min(WIDTH, int(math.ceil(HEIGHT * w / h)))
    resized = cv2.resize(image, (width, HEIGHT)).astype(np.float32)
    out = np.zeros((3, HEIGHT, WIDTH), np.float32)
    out[:, :, :width] = ((resized / 255 - 0.5) / 0.5).transpose(2, 0, 1)
    return out


def load_split(split, limit=None):
    """(inputs (N, 3, 48, 320), truths, file names) of textlines/<split>.tsv."""
    with open(os.path.join(TEXTLINES, split + ".tsv"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    rows = rows[:limit] if limit else rows
    inputs = np.stack([preprocess(os.path.join(TEXTLINES, name)) for name, _ in rows])
    return inputs, [text for _, text in rows], [name for name, _ in rows]


def decode(probs, chars):
    """Greedy CTC strings of (N, T, C) scores, stripped."""
    out = []
    for steps in np.asarray(probs).reshape(len(probs), -1, len(chars)).argmax(axis=2):
        keep = np.concatenate([[True], steps[1:] != steps[:-1]]) & (steps != 0)
        out.append("".join(chars[i] for i in steps[keep]).strip())
    return out


def edit_distance(a, b):
    """Levenshtein distance between two strings."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def scores(strings, truths, reference=None, probs=None, reference_probs=None):
    """exact match and CER vs the truth; vs fp32 (reference strings / probabilities): string and
    per-step argmax agreement."""
    result = {"exact": float(np.mean([s == t for s, t in zip(strings, truths)])),
              "cer": sum(edit_distance(s, t) for s, t in zip(strings, truths)) / max(1, sum(map(len, truths)))}
    if reference is not None:
        result["agree"] = float(np.mean([s == r for s, r in zip(strings, reference)]))
    if probs is not None and reference_probs is not None:
        result["step_agree"] = float(np.mean(np.asarray(probs).argmax(-1) == np.asarray(reference_probs).argmax(-1)))
    return result


def run_cli(name, args):
    """`python -m ncnnlike.cli.<name> args` -> seconds; stops the tool with its stderr tail on failure."""
    import time
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "ncnnlike.cli." + name, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("%s %s failed (exit %d):\n%s" % (name, " ".join(args), out.returncode, out.stderr[-3000:]))
    return time.perf_counter() - start


def prepare_model(folder):
    """ppocrv4-rec pinned to 1x3x48x320, through onnx2model and model-optimize: (param, bin)."""
    import onnx
    static = os.path.join(folder, "ppocrv4-rec-static.onnx")
    param, binfile = os.path.join(folder, "ocr-opt.param"), os.path.join(folder, "ocr-opt.bin")
    if os.path.exists(param) and os.path.exists(binfile):
        return param, binfile
    model = onnx.load(ONNX)
    for dim, value in zip(model.graph.input[0].type.tensor_type.shape.dim, (1, 3, HEIGHT, WIDTH)):
        dim.ClearField("dim_param")
        dim.dim_value = value
    onnx.save(model, static)
    raw = [os.path.join(folder, "ocr." + ext) for ext in ("param", "bin")]
    run_cli("onnx2model", [static, *raw])
    run_cli("model_optimize", [*raw, param, binfile, "0"])
    return param, binfile


def write_npy_list(inputs, folder, name):
    """One .npy per input and a model2table list of them (type=1); returns the list path."""
    os.makedirs(os.path.join(folder, name), exist_ok=True)
    paths = []
    for i, x in enumerate(inputs):
        paths.append(os.path.join(folder, name, "%04d.npy" % i))
        np.save(paths[-1], x)
    listfile = os.path.join(folder, name + ".txt")
    with open(listfile, "w") as f:
        f.write("\n".join(paths) + "\n")
    return listfile


def our_probs(param, binfile, inputs, int8, threads=2, batch=20):
    """(N, 40, 6625) probabilities of our runtime (int8: False, "fast" or "sim")."""
    from tools.common import our_net
    net = our_net(param, binfile, int8, threads)
    output = net.output_names()[0]
    out = [net.run({INPUT: inputs[i:i + batch]}, [output])[output] for i in range(0, len(inputs), batch)]
    return np.concatenate(out).reshape(len(inputs), -1, out[0].shape[-1])


def ncnn_probs(param, binfile, inputs, int8):
    """The same in pip ncnn, one sample at a time (one thread)."""
    from tools.common import ncnn_extract, ncnn_net
    from ncnnlike.io.param import read_param
    output = read_param(param).output_names()[0]
    net = ncnn_net(param, binfile, int8, threads=1)
    return np.stack([ncnn_extract(net, {INPUT: x}, [output])[output] for x in inputs])
