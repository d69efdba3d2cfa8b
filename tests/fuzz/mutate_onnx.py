"""Hypothesis strategies over ONNX models: field-level edits of a ModelProto (attributes removed or
set to bad values, op types swapped, inputs rewired into cycles, initializer shapes that do not
match their data, graph input dims of 0, -1 or 2^40) and byte-level damage of the serialized file."""
import onnx
from hypothesis import strategies as st

from fuzz.mutate import INTS, damaged_bytes

OPS = ["Conv", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "Gemm", "MatMul", "Add", "Mul", "Reshape",
       "Flatten", "Transpose", "Concat", "Split", "Slice", "Cast", "Resize", "Pad", "Softmax", "BatchNormalization",
       "ConvTranspose", "LSTM", "Gather", "Unsqueeze", "Squeeze", "Clip", "Sigmoid", "ReduceMean", "Expand",
       "Where", "Bogus", "Identity", "Dropout", "Constant", "Shape", "Tile", "Einsum", "TopK"]
ATTR_NAMES = ["kernel_shape", "pads", "strides", "dilations", "group", "axis", "to", "transA", "transB",
              "alpha", "beta", "perm", "axes", "keepdims", "mode", "epsilon", "ceil_mode", "auto_pad"]


def _set_attribute(draw, node):
    name = draw(st.sampled_from([a.name for a in node.attribute] + ATTR_NAMES))
    for attr in list(node.attribute):
        if attr.name == name:
            node.attribute.remove(attr)
    kind = draw(st.sampled_from(["ints", "int", "float", "string"]))
    if kind == "ints":
        value = draw(st.lists(st.sampled_from(INTS[:22]), min_size=1, max_size=6))
    elif kind == "int":
        value = draw(st.sampled_from(INTS[:22]))
    elif kind == "float":
        value = draw(st.sampled_from([0.0, -1.0, float("nan"), float("inf"), 1e38]))
    else:
        value = draw(st.sampled_from(["SAME_UPPER", "NOTSET", "bogus", "", "nearest"]))
    node.attribute.append(onnx.helper.make_attribute(name, value))


def _edit(draw, model):
    graph = model.graph
    nodes = graph.node
    kind = draw(st.sampled_from(["attr_delete", "attr_set", "attr_set", "op_type", "rewire", "init_shape",
                                 "input_dims", "remove_node", "dup_node", "remove_output"]))
    if kind in ("attr_delete", "attr_set", "op_type", "rewire", "remove_node", "dup_node") and not nodes:
        return
    node = nodes[draw(st.integers(0, len(nodes) - 1))] if nodes else None
    if kind == "attr_delete" and node.attribute:
        node.attribute.remove(node.attribute[draw(st.integers(0, len(node.attribute) - 1))])
    elif kind == "attr_set":
        _set_attribute(draw, node)
    elif kind == "op_type":
        node.op_type = draw(st.sampled_from(OPS))
    elif kind == "rewire" and node.input:
        names = [o for n in nodes for o in n.output] + [i.name for i in graph.input] + ["", "nowhere"]
        node.input[draw(st.integers(0, len(node.input) - 1))] = draw(st.sampled_from(names))
    elif kind == "init_shape" and graph.initializer:
        init = graph.initializer[draw(st.integers(0, len(graph.initializer) - 1))]
        del init.dims[:]
        init.dims.extend(draw(st.lists(st.sampled_from([0, 1, 2, 3, 7, 16, 2**31]), max_size=4)))
    elif kind == "input_dims" and graph.input:
        dims = graph.input[0].type.tensor_type.shape.dim
        if dims:
            dim = dims[draw(st.integers(0, len(dims) - 1))]
            choice = draw(st.sampled_from([0, -1, 1, 2**40, 100000, "N"]))
            if isinstance(choice, str):
                dim.dim_param = choice
            else:
                dim.dim_value = choice
    elif kind == "remove_node":
        nodes.remove(node)
    elif kind == "dup_node":
        nodes.append(node)
    elif kind == "remove_output" and graph.output:
        graph.output.remove(graph.output[0])


@st.composite
def onnx_bytes(draw, data):
    """Serialized bytes of the model with 1-3 field edits, or the original bytes damaged."""
    if draw(st.integers(0, 4)) == 0:
        return draw(damaged_bytes(data))
    model = onnx.load_from_string(data)
    for _ in range(draw(st.integers(1, 3))):
        _edit(draw, model)
    return model.SerializeToString()
