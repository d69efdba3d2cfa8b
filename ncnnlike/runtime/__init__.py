"""The runtime: lower the graph to ONNX and run it with onnxruntime (see DESIGN.md, principle 2).

Net, Extractor and Option are loaded on first use, so that importing runtime.lower (shape
inference in model-optimize) does not import onnxruntime."""


def __getattr__(name):
    if name in ("Net", "Extractor", "Option"):
        from ncnnlike.runtime import net
        return getattr(net, name)
    raise AttributeError(name)
