"""ONNX -> ncnn Graph importer: `import_onnx(path) -> Graph`, `convert(onnx, param, bin)`."""
from ncnnlike.onnx.importer import convert, converter, import_onnx
