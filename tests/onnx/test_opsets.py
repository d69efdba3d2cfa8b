"""The same ops as different opsets write them (inputs vs attributes, new attributes): each form
converts and equals onnxruntime in ours and in pip ncnn."""
import numpy as np
import pytest

from onnxcase import check, make, node, types

I64 = np.int64
CASES = {
    "split_num_outputs_18": ([node("Split", ["x"], ["a", "b"], axis=1, num_outputs=2), node("Add", ["a", "b"], ["y"])],
                             {"x": [1, 6, 5]}, {}, 18),
    "split_attr_11": ([node("Split", ["x"], ["a", "b"], axis=2, split=[2, 3]), node("Relu", ["b"], ["y"])],
                      {"x": [1, 6, 5]}, {}, 11),
    "squeeze_unsqueeze_attr_11": ([node("Unsqueeze", ["x"], ["u"], axes=[2]), node("Squeeze", ["u"], ["y"], axes=[2])],
                                  {"x": [1, 6, 5]}, {}, 11),
    "reduce_axes_input_18": ([node("ReduceMean", ["x", "ax"], ["y"], keepdims=0)], {"x": [1, 6, 5]},
                             {"ax": np.array([-1], I64)}, 18),
    "resize_roi_11": ([node("Resize", ["x", "roi", "sc"], ["y"], mode="linear", coordinate_transformation_mode="align_corners")],
                      {"x": [1, 2, 3, 4]}, {"roi": np.zeros(0, np.float32), "sc": np.array([1, 1, 2, 2], np.float32)}, 11),
    "resize_axes_18": ([node("Resize", ["x", "", "sc"], ["y"], mode="nearest", axes=[2, 3])], {"x": [1, 2, 3, 4]},
                       {"sc": np.array([2, 2], np.float32)}, 18),
    "pad_axes_18": ([node("Pad", ["x", "p", "", "ax"], ["y"], mode="edge")], {"x": [1, 2, 3, 4]},
                    {"p": np.array([1, 2, 0, 1], I64), "ax": np.array([2, 3], I64)}, 18),
    "clip_attr_6": ([node("Clip", ["x"], ["y"], min=-0.5, max=0.5)], {"x": [1, 2, 3]}, {}, 6),
    "layernorm_chain_reduce_18": ([node("ReduceMean", ["x", "ax"], ["m"]), node("Sub", ["x", "m"], ["d"]),
                                   node("Mul", ["d", "d"], ["q"]), node("ReduceMean", ["q", "ax"], ["v"]),
                                   node("Add", ["v", "e"], ["ve"]), node("Sqrt", ["ve"], ["s"]),
                                   node("Div", ["d", "s"], ["y"])],
                                  {"x": [1, 4, 8]}, {"ax": np.array([-1], I64), "e": np.float32(1e-5)}, 18),
    "softmax_axis1_opset11": ([node("Softmax", ["x"], ["y"], axis=1)], {"x": [1, 7]}, {}, 11),
    "gelu_20": ([node("Gelu", ["x"], ["y"], approximate="tanh")], {"x": [1, 3, 4]}, {}, 20),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_as_opset_writes_it(tmp_path, case):
    nodes, inputs, inits, opset = CASES[case]
    graph = check(make(nodes, inputs, ["y"], inits, opset=opset), tmp_path)
    if case.startswith("layernorm"):
        assert types(graph) == ["Input", "LayerNorm"]
