"""Calibration's pass-1 sessions run onnxruntime's own saved optimized model (runtime/reloaded.py):
the same per-sample minima and maxima as the session optimized at load, on real and random-weight
networks; and when saving or loading it back fails, the usual session is built instead."""
import os

import numpy as np
import pytest

from helpers import REFERENCE, random_benchmark
from ncnnlike.io.model import load_model
from ncnnlike.quant.calibrate import extrema_probe, measured_blobs
from ncnnlike.runtime import Net, reloaded

LITE0 = os.path.join(REFERENCE, "lite0", "lite0-opt")


def _extrema(graph, inputs, reload):
    """{blob: (mins, maxs)} of pass 1's probe, from a reloaded session or the one optimized at load."""
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.use_int8_inference = 1, False
    blobs = list(dict.fromkeys(measured_blobs(graph).values()))
    real, made = reloaded.reloaded_session, []

    def recorded(*args):
        made.append(real(*args))
        return made[-1]
    reloaded.reloaded_session = recorded if reload else (lambda *args: None)
    try:
        outputs = net.run(inputs, blobs, probe=extrema_probe)
    finally:
        reloaded.reloaded_session = real
    assert not reload or (len(made) == 1 and made[0] is not None)    # the reloaded session was the one run
    return {blob: tuple(np.asarray(v) for v in outputs[blob]) for blob in blobs}


def _same(a, b):
    assert a.keys() == b.keys()
    for blob in a:
        for x, y in zip(a[blob], b[blob]):
            assert np.array_equal(x, y), blob


def _inputs(graph, shape, count, seed=0):
    return {graph.input_names()[0]: np.random.default_rng(seed).uniform(-1, 1, (count,) + shape).astype(np.float32)}


def test_lite0_extrema_are_those_of_the_session_optimized_at_load():
    graph = load_model(LITE0 + ".param", LITE0 + ".bin")
    inputs = _inputs(graph, (3, 224, 224), 3)
    _same(_extrema(graph, inputs, True), _extrema(graph, inputs, False))


@pytest.mark.parametrize("name", ["mobilenet_ssd", "shufflenet_v2", "yolo-fastest-1.1"])
def test_benchmark_networks_extrema_are_those_of_the_session_optimized_at_load(tmp_path, name):
    graph, shape = random_benchmark(name, tmp_path)
    inputs = _inputs(graph, shape, 2, seed=1)
    _same(_extrema(graph, inputs, True), _extrema(graph, inputs, False))


def test_a_failed_save_falls_back_to_the_usual_session(monkeypatch):
    """No temporary space: reloaded_session gives None, and the net builds its usual session."""
    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(reloaded.tempfile, "TemporaryDirectory", refuse)
    graph = load_model(LITE0 + ".param", LITE0 + ".bin")
    inputs = _inputs(graph, (3, 224, 224), 1)
    assert reloaded.reloaded_session(None, b"", None, None, []) is None
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.use_int8_inference = 1, False
    blob = measured_blobs(graph)[next(iter(measured_blobs(graph)))]
    lows, highs = net.run(inputs, [blob], probe=extrema_probe)[blob]
    assert lows[0] == inputs["in0"].min() and highs[0] == inputs["in0"].max()


def test_a_model_with_more_weights_than_the_limit_keeps_the_session_optimized_at_load(monkeypatch):
    """The reloaded session owns a copy of every weight: above RELOAD_MAX_BYTES (VGG16: 480 MB more)
    the net builds the session that uses ours in place."""
    from ncnnlike.runtime import net as netmodule
    calls = []
    monkeypatch.setattr(reloaded, "reloaded_session", lambda *args: calls.append(args))
    graph = load_model(LITE0 + ".param", LITE0 + ".bin")
    inputs = _inputs(graph, (3, 224, 224), 1)
    blobs = list(dict.fromkeys(measured_blobs(graph).values()))
    monkeypatch.setattr(netmodule, "RELOAD_MAX_BYTES", 1 << 20)        # Lite0 has 18 MB
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.use_int8_inference = 1, False
    net.run(inputs, blobs, probe=extrema_probe)
    assert calls == []
    monkeypatch.setattr(netmodule, "RELOAD_MAX_BYTES", 64 << 20)
    net.clear()
    net.run(inputs, blobs, probe=extrema_probe)
    assert len(calls) == 1
