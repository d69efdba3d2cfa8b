"""Shape inference (spec 4.3 pass 35, spec 1.4): -23330 hints when Input shapes are known."""
import numpy as np

from passgraphs import graph_from, random_inputs, run
from ncnnlike.io.model import save_model
from ncnnlike.io.param import param_text
from ncnnlike.passes.shape_inference import shape_inference

NET = """
    Input in 0 1 x %s
    Convolution conv 1 1 x c 0=4 1=3 3=2 5=1 6=108
    Pooling gp 1 1 c p 0=1 4=1
    InnerProduct fc 1 1 p y 0=10 1=1 2=40
"""


def test_hints_are_dims_w_h_d_c_per_top_and_written_as_23330(tmp_path):
    g = graph_from(NET % "0=9 1=7 2=3", tmp_path)
    log = []
    assert shape_inference(g, log.append) == 4 and log == ["shape_inference"]
    assert [l.shape_hints for l in g.layers] == [[(3, 9, 7, 1, 3)], [(3, 4, 3, 1, 4)], [(1, 4, 1, 1, 1)],
                                                 [(1, 10, 1, 1, 1)]]
    assert " -23330=5,3,4,3,1,4 " in param_text(g)


def test_hinted_file_runs_the_same_in_pip_ncnn(tmp_path):
    import ncnn
    g = graph_from(NET % "0=9 1=7 2=3", tmp_path)
    shape_inference(g)
    param, binary = str(tmp_path / "h.param"), str(tmp_path / "h.bin")
    save_model(g, param, binary)
    inputs = random_inputs(g, batch=1)
    want = run(g, inputs)["y"][0]
    net = ncnn.Net()
    net.opt.num_threads = 1
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    assert net.load_param(param) == 0 and net.load_model(binary) == 0
    x = np.ascontiguousarray(inputs["x"][0])   # ncnn.Mat does not copy: keep x alive
    ex = net.create_extractor()
    ex.input("x", ncnn.Mat(x))
    ret, out = ex.extract("y")
    assert ret == 0
    np.testing.assert_allclose(np.array(out), want, atol=1e-5)


def test_2d_input_hint_has_h_as_rows():
    from helpers import layer
    from ncnnlike.graph import Graph
    g = Graph([layer("Input", "in", [], ["x"], {0: 6, 1: 4}), layer("ReLU", "r", ["x"], ["y"])])
    shape_inference(g)
    assert g.layers[1].shape_hints == [(2, 6, 4, 1, 1)]


def test_shapeless_input_skips_and_drops_stale_hints(tmp_path):
    g = graph_from(NET % "", tmp_path)
    g.layers[1].shape_hints = [(3, 1, 1, 1, 4)]
    log = []
    assert shape_inference(g, log.append) == 0
    assert all(l.shape_hints is None for l in g.layers)
    assert log == ["Input layer in without shape info, shape_inference skipped"]
