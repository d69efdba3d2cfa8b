"""The runtime: lower the graph to ONNX and run it with onnxruntime (see DESIGN.md, principle 2)."""
from ncnnlike.runtime.net import Extractor, Net, Option
