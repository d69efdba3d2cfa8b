"""The weights-adjustment file: corrections model2table computes and model2int8 applies (ours, .npz).

The calibration table stays exactly ncnn's format, so the real ncnn2int8 still reads it; what a
table cannot say goes next to it: per Convolution / ConvolutionDepthWise / InnerProduct layer, the
int8 weights chosen by the rounding optimiser (quant/rounding.py) and the bias corrected for the
int8 output shift (quant/bias_correction.py). Both are only valid for the scales they were made
with, so each entry records the layer's weight scales and bottom scale as the table gives them
(after the `%f` round trip); model2int8 applies an entry only when the table it is given quantizes
that layer with exactly those scales, and says why when it does not. Written atomically.
"""
import zipfile
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.atomic import atomic_open

FORMAT = "ncnnlike-weight-adjust-1"


@dataclass
class LayerAdjust:
    """Corrections of one layer for its table scales: int8 weights (flat, weight_data order) and/or bias."""
    weight_scales: np.ndarray
    bottom_scale: np.ndarray
    weight_int8: np.ndarray = None
    bias: np.ndarray = None

    def what(self):
        """'rounding', 'bias' or 'rounding, bias' (for logs)."""
        return ", ".join(n for n, v in (("rounding", self.weight_int8), ("bias", self.bias)) if v is not None)

    def matches(self, weight_scales, bottom_scale):
        """Whether these corrections were made for exactly these (float32) scales."""
        return (np.array_equal(np.asarray(weight_scales, np.float32).reshape(-1), self.weight_scales)
                and np.array_equal(np.asarray(bottom_scale, np.float32).reshape(-1), self.bottom_scale))


def write_adjust(path, layers):
    """Write OrderedDict layer name -> LayerAdjust to `path` (.npz), atomically."""
    arrays = {"format": np.array(FORMAT), "names": np.array(list(layers), dtype=str)}
    for i, entry in enumerate(layers.values()):
        arrays["weight_scales_%d" % i] = np.asarray(entry.weight_scales, np.float32).reshape(-1)
        arrays["bottom_scale_%d" % i] = np.asarray(entry.bottom_scale, np.float32).reshape(-1)
        if entry.weight_int8 is not None:
            arrays["weight_int8_%d" % i] = np.asarray(entry.weight_int8, np.int8).reshape(-1)
        if entry.bias is not None:
            arrays["bias_%d" % i] = np.asarray(entry.bias, np.float32).reshape(-1)
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


def read_adjust(path):
    """OrderedDict layer name -> LayerAdjust from a file written by write_adjust."""
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise NcnnlikeError("%s: cannot read the weights-adjustment file (%s)" % (path, e)) from None
    if "format" not in data or str(data["format"]) != FORMAT or "names" not in data:
        raise NcnnlikeError("%s: not an ncnnlike weights-adjustment file (made by model2table correct=...)" % path)
    layers = OrderedDict()
    for i, name in enumerate(data["names"].tolist()):
        if "weight_scales_%d" % i not in data or "bottom_scale_%d" % i not in data:
            raise NcnnlikeError("%s: layer %s has no scales" % (path, name))
        layers[name] = LayerAdjust(data["weight_scales_%d" % i], data["bottom_scale_%d" % i],
                                   data.get("weight_int8_%d" % i), data.get("bias_%d" % i))
    return layers
