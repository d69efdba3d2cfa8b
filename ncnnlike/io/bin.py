"""The .bin weight file: every layer's buffers in layer order, tagged (type 0) or raw (type 1).

Spec 2: no header, no index; each buffer 4-byte aligned. The layer modules say which buffers a
layer reads (`weights(p)` -> WeightSpec list); this module reads and writes their bytes, byte-exact
with ncnn's ModelWriter (denormal flush, fp16 rounding of an x86 build, zero padding).

The reader keeps each buffer as the file's bytes (io/stored.py): numpy is imported only when a
weight is read as numbers or written changed, so model-optimize copies untouched weights without it.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.atomic import atomic_files
from ncnnlike.io.paths import input_path
from ncnnlike.io.stored import FLUSH_BELOW_F32, StoredArray, StoredWeights, stored_entry
from ncnnlike.layers.base import weight_specs

TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAG_FP32_SCALED = 0x0002C056   # legacy caffe-int8 "raw data with extra scaling": read as plain fp32
TAG_FP32 = 0
CODEBOOK_SIZE = 256
# FLUSH_BELOW (1e-30): ModelWriter flushes 0 < |v| < 1e-30 to 0, compared in double; the same test
# in float32 is |v| < FLUSH_BELOW_F32, the least float32 whose double is >= 1e-30 (io/stored.py)


def _align4(n):
    return (n + 3) // 4 * 4


class _Reader:
    """A cursor over the file's bytes that names the layer and buffer when the file runs short."""

    def __init__(self, path, data):
        self.path, self.data, self.offset = path, data, 0
        self.where = ""

    def take(self, nbytes):
        """The offset of the next `nbytes` bytes, which the cursor then passes."""
        if self.offset + nbytes > len(self.data):
            raise NcnnlikeError("%s: truncated at %s: need %d bytes at offset %d, file has %d"
                                % (self.path, self.where, nbytes, self.offset, len(self.data)))
        start, self.offset = self.offset, self.offset + nbytes
        return start

    def array(self, dtype, count, nbytes):
        """`count` values of `dtype` as stored in the file's bytes (io/stored.py: read on first use)."""
        return StoredArray(self.data, self.take(nbytes), dtype, count)

    def raw(self, count):
        """Type 1: count little-endian float32 values."""
        return self.array("<f4", count, 4 * count)

    def tagged(self, count):
        """Type 0: a 4-byte flag, then fp16, int8, fp32 or codebook data (spec 2.2, checked in ncnn's order)."""
        start = self.take(4)
        flag = int.from_bytes(self.data[start:start + 4], "little")
        if flag == TAG_FP16:
            return self.array("<f2", count, _align4(2 * count))
        if flag == TAG_INT8:
            return self.array("|i1", count, _align4(count))
        if flag == TAG_FP32_SCALED:
            return self.raw(count)
        if flag != TAG_FP32:
            # any other non-zero byte sum: 256 fp32 codebook entries, then uint8 indices
            codebook = self.raw(CODEBOOK_SIZE).array()
            return codebook[self.array("|u1", count, _align4(count)).array()]
        return self.raw(count)


def _read_all(f, writable=True):
    """The file's bytes as a bytearray: the weights are writable views of it, not copies (an
    18 MB model costs 18 MB, not 36, and no copying time). Not `writable`: as bytes, which skips
    zero-filling the buffer first (Lite0: 17 -> 12 ms in a fresh process; for model-optimize, whose
    weights mostly go back out as they came: a weight read as numbers is then a copy)."""
    if not writable:
        return f.read()
    import os
    size = os.fstat(f.fileno()).st_size
    data = bytearray(size)
    got = f.readinto(data)
    del data[got:]
    rest = f.read()           # the file grew since fstat
    if rest:
        data += rest
    return data


def read_bin(graph, path, writable=True):
    """Load every layer's weights from `path` into layer.weights (replacing them), in .bin order.

    The whole file must be consumed: leftover bytes mean the .param and .bin do not belong together.
    The weights are a StoredWeights per layer: read as numbers, they are views of one buffer holding
    the file (_read_all), or copies of its parts when not `writable`.
    """
    path = input_path(path, ".bin")
    try:
        with open(path, "rb") as f:
            data = _read_all(f, writable)
    except OSError as e:
        raise NcnnlikeError("%s: cannot read: %s" % (path, e.strerror or e)) from None
    reader = _Reader(path, data)
    loaded = []
    for layer in graph.layers:
        weights = StoredWeights()
        for spec in weight_specs(layer):
            reader.where = "layer %s (%s) buffer %s" % (layer.name, layer.type, spec.name)
            if spec.count < 0:
                raise NcnnlikeError("%s: %s has a negative size %d: check the layer's params"
                                    % (path, reader.where, spec.count))
            weights[spec.name] = reader.tagged(spec.count) if spec.tagged else reader.raw(spec.count)
        loaded.append(weights)
    if reader.offset != len(data):
        last = graph.layers[-1].name if graph.layers else "(none)"
        raise NcnnlikeError("%s: %d bytes left after the last layer (%s): the .param asks for %d of the %d bytes, "
                            "so the .param and .bin do not belong together"
                            % (path, len(data) - reader.offset, last, reader.offset, len(data)))
    for layer, weights in zip(graph.layers, loaded):
        layer.weights = weights


def flush_denormals(values):
    """float32 copy with 0 < |v| < 1e-30 set to +0.0, as ModelWriter's replace_denormals_with_zero."""
    import numpy as np
    out = np.array(values, dtype=np.float32).reshape(-1)
    mag = np.abs(out)
    tiny = (mag < FLUSH_BELOW_F32) & (mag > 0)
    if tiny.any():
        out[tiny] = 0.0
    return out


def _truncate_to_float16(values):
    """ncnn's scalar float32_to_float16 (src/mat.cpp, spec 2.3): truncate the mantissa, flush values
    below the fp16 normal range to signed zero, overflow to inf, NaN to a quiet NaN."""
    import numpy as np
    bits = np.asarray(values, np.float32).view(np.uint32)
    sign = ((bits >> 16) & 0x8000).astype(np.uint16)
    exponent = ((bits >> 23) & 0xFF).astype(np.int32)
    mantissa = bits & 0x7FFFFF
    new_exp = exponent - 127 + 15
    normal = (np.clip(new_exp, 0, 31).astype(np.uint32) << 10) | (mantissa >> 13)
    half = np.select(
        [exponent == 0, exponent == 0xFF, new_exp >= 31, new_exp <= 0],
        [0, np.where(mantissa != 0, 0x7E00, 0x7C00), 0x7C00, 0],
        normal).astype(np.uint16)
    return (sign | half).view(np.float16)


def to_float16(values):
    """fp32 -> fp16 as an x86 (F16C) ncnn build stores it: round-to-nearest-even for the first
    floor(n/4)*4 values, scalar truncation for the last n % 4 (spec 2.3 QUIRK)."""
    import numpy as np
    x = np.asarray(values, np.float32).reshape(-1)
    head = x.size // 4 * 4
    with np.errstate(over="ignore"):
        rne = x[:head].astype(np.float16)
    return np.concatenate([rne, _truncate_to_float16(x[head:])])


def _padded(payload):
    return payload + b"\0" * (-len(payload) % 4)


def _tag(flag):
    return int(flag).to_bytes(4, "little")


def tagged_bytes(values, fp16=False):
    """One type-0 buffer as ModelWriter's fwrite_weight_tag_data writes it (spec 2.2 'The writer')."""
    import numpy as np
    values = np.asarray(values).reshape(-1)
    if values.dtype == np.int8:
        return _padded(_tag(TAG_INT8) + values.tobytes())
    if values.dtype == np.float16:
        return _padded(_tag(TAG_FP16) + values.astype("<f2").tobytes())
    if fp16:
        return _padded(_tag(TAG_FP16) + to_float16(values).astype("<f2").tobytes())
    return _tag(TAG_FP32) + flush_denormals(values).astype("<f4").tobytes()


def raw_bytes(values):
    """One type-1 buffer: float32 values with the same denormal flush (fwrite_weight_data)."""
    return flush_denormals(values).astype("<f4").tobytes()


def dump_bin(graph, f, fp16=False):
    """Write every layer's buffers to the binary file object `f`; fp16=True stores float32 tagged
    buffers as fp16 (model-optimize flag 65536), raw buffers stay float32."""
    for layer in graph.layers:
        specs = weight_specs(layer)
        extra = set(layer.weights) - {spec.name for spec in specs}
        if extra:
            raise NcnnlikeError("layer %s (%s): weights %s are not in its .bin layout %s"
                                % (layer.name, layer.type, sorted(extra), [s.name for s in specs]))
        for spec in specs:
            if spec.name not in layer.weights:
                raise NcnnlikeError("layer %s (%s): weight %s is missing" % (layer.name, layer.type, spec.name))
            values = _entry(layer.weights, spec.name)
            if values.size != spec.count:
                raise NcnnlikeError("layer %s (%s): weight %s has %d values, its params say %d"
                                    % (layer.name, layer.type, spec.name, values.size, spec.count))
            if not (isinstance(values, StoredArray) and _write_stored(f, values, spec.tagged, fp16)):
                _write_buffer(f, values, spec.tagged, fp16)


def _entry(weights, name):
    """A weight to write: its StoredArray while nobody has read it (no numpy needed), else an array."""
    values = stored_entry(weights, name)
    if isinstance(values, StoredArray):
        return values
    import numpy as np
    return np.asarray(values)


def _write_stored(f, stored, tagged, fp16):
    """Write a StoredArray as bytes when ModelWriter writes them unchanged: int8 and fp16 storage
    (tagged), float32 without a value to flush (tagged fp32 unless fp16=True, or raw). False when
    the values need converting (then the caller writes the array)."""
    if tagged and stored.dtype in ("|i1", "<f2"):
        payload = stored.payload()
        f.write(_tag(TAG_INT8 if stored.dtype == "|i1" else TAG_FP16))
        f.write(payload)
        f.write(b"\0" * (-len(payload) % 4))
        return True
    if tagged and fp16:
        return False
    payload = stored.fp32_payload()
    if payload is None:
        return False
    if tagged:
        f.write(_tag(TAG_FP32))
    f.write(payload)
    return True


def _write_buffer(f, values, tagged, fp16):
    """tagged_bytes / raw_bytes written straight from the arrays (an fp32 model's weights are
    written without another copy of them in memory)."""
    import numpy as np
    if isinstance(values, StoredArray):
        values = values.array()
    values = values.reshape(-1)
    if tagged and (values.dtype in (np.int8, np.float16) or fp16):
        f.write(tagged_bytes(values, fp16))
        return
    if tagged:
        f.write(_tag(TAG_FP32))
    f.write(memoryview(flush_denormals(values).astype("<f4", copy=False)))


def write_bin(graph, path, fp16=False):
    """Write the graph's .bin atomically (spec 2)."""
    with atomic_files(path) as (tmp,):
        with open(tmp, "wb") as f:
            dump_bin(graph, f, fp16)
