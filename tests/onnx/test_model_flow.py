"""The models real exporters write (tools/onnx_zoo_models.py: LSTM / GRU classifiers with the
y[:, -1] head, Embedding + LSTM, a YOLO-style head, a ViT-tiny block, a segmentation decoder),
each through onnx2model, model-optimize, model2table (npy, type=1) and model2int8 by their CLIs:
fp32 files equal onnxruntime in our runtime and in pip ncnn, int8 files run in pip ncnn and equal
our int8 runtime."""
import pytest

import helpers  # noqa: F401  (puts the repository root on sys.path, for tools/)
from tools.onnx_zoo import flow
from tools.onnx_zoo_models import MODELS

# int8 output cosine vs fp32 onnxruntime: 4 random inputs, 8 calibration samples, tiny random
# models (the LSTM head's 5 logits are the least forgiving)
INT8_COSINE = {"lstm-classifier": 0.95, "embed-lstm-text": 0.95}


@pytest.mark.parametrize("name", list(MODELS))
def test_model_through_the_whole_flow(tmp_path, name, record_property):
    r = flow(name, str(tmp_path))
    for key, value in r.items():
        record_property(key, value)
    assert r["ours_fp32"] <= 1e-4 and r["pip_fp32"] <= 1e-4, r
    assert r["shape_ok"] and r["pip_int8_finite"], r
    assert r["int8_layers"] >= 2, r
    assert r["pip_int8_cos"] >= INT8_COSINE.get(name, 0.999), r
    assert r["ours_int8_vs_pip"] >= 0.9999, r
