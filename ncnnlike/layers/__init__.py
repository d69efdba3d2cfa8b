"""One module per ncnn layer type; see base.py for what a module declares."""
from ncnnlike.layers.base import Param, Link, WeightSpec, registry, layer_module, resolve, weight_specs
