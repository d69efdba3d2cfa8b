"""Weights as a .bin stores them: the file's bytes, turned into a numpy array on first numeric use.

model-optimize writes most weights back unchanged, and numpy's import alone takes longer than
ncnnoptimize's whole run. So read_bin records each buffer as a StoredArray (where its bytes are in
the file, their dtype and count) inside a StoredWeights mapping; `layer.weights[name]` turns it into
the numpy array callers always got (a writable view of the file's bytes, numpy imported then), while
the writer asks `fp32_payload()` for the bytes ModelWriter would write and copies them as they are.

ModelWriter changes float32 values only where 0 < |v| < 1e-30 (flushed to +0.0); `fp32_payload`
proves there is no such value: in one compiled pass over the bits (io/_flush.c, built at install
where a C compiler is found), or else from the high byte of each value (bytes slicing and translate,
no numpy), checking the few candidates one by one and giving up (None: write through numpy) when
the candidates are too many to check in Python.
"""
import struct
from collections.abc import MutableMapping

try:
    from ncnnlike.io import _flush
except ImportError:      # installed without a C compiler: the pure-Python scan
    _flush = None

FLUSH_BELOW = 1e-30            # ModelWriter flushes 0 < |v| < 1e-30 to 0 (compared in double)
_F32 = struct.Struct("<f")
_U32 = struct.Struct("<I")


def _flush_limit_bits():
    """Bits of the least float32 whose double is >= FLUSH_BELOW: |v| flushes iff 0 < bits(|v|) < this."""
    bits = _U32.unpack(_F32.pack(FLUSH_BELOW))[0]
    return bits if _F32.unpack(_U32.pack(bits))[0] >= FLUSH_BELOW else bits + 1


FLUSH_LIMIT_BITS = _flush_limit_bits()
FLUSH_BELOW_F32 = _F32.unpack(_U32.pack(FLUSH_LIMIT_BITS))[0]   # that float32, as a Python float
MAX_CANDIDATES = 1 << 16       # values with a small exponent (zeros mostly) checked one by one, at most
_SCAN_BYTES = 1 << 18          # needs_flush's chunk: 64 KiB temporaries, under glibc's mmap threshold
# high byte of a little-endian float32 (sign and 7 exponent bits) -> 1 when |v| may be below the limit
_CANDIDATE_HIGH_BYTES = bytes(int((b & 0x7F) <= FLUSH_LIMIT_BITS >> 24) for b in range(256))

DTYPES = {"<f4": ("float32", 4), "<f2": ("float16", 2), "|i1": ("int8", 1), "|u1": ("uint8", 1)}


def needs_flush(data, start, stop):
    """False when no float32 in data[start:stop] (little-endian, 4-byte aligned) is 0 < |v| < 1e-30;
    True when one is; None when there are too many near-zero values to check (pure Python only).
    Lite0's 4.6 M weights: ~1 ms compiled, ~19 ms in Python."""
    if _flush is not None:
        return _flush.needs_flush(data, start, stop, FLUSH_LIMIT_BITS)
    return scan_high_bytes(data, start, stop)


def scan_high_bytes(data, start, stop):
    """needs_flush in pure Python (installs without the compiled scan).

    The high bytes are sliced out and marked in chunks of _SCAN_BYTES: chunk-sized temporaries come
    back from the heap warm, where whole-array ones are fresh pages to fault in (Lite0, a fresh
    process: 17-30 ms for the file's 4.6 M values in one piece per array)."""
    checked = 0
    for begin in range(start, stop, _SCAN_BYTES):
        marks = data[begin + 3:min(stop, begin + _SCAN_BYTES):4].translate(_CANDIDATE_HIGH_BYTES)
        i = marks.find(1)
        while i >= 0:
            checked += 1
            if checked > MAX_CANDIDATES:
                return None
            magnitude = _U32.unpack_from(data, begin + 4 * i)[0] & 0x7FFFFFFF
            if 0 < magnitude < FLUSH_LIMIT_BITS:
                return True
            i = marks.find(1, i + 1)
    return False


class StoredArray:
    """`count` little-endian values of `dtype` ("<f4", "<f2", "|i1", "|u1") at `offset` of `buffer`
    (a bytearray or bytes holding the whole .bin): a weight nobody has read as numbers yet."""
    __slots__ = ("buffer", "offset", "dtype", "count")

    def __init__(self, buffer, offset, dtype, count):
        self.buffer, self.offset, self.dtype, self.count = buffer, offset, dtype, count

    @property
    def dtype_name(self):
        """numpy's name of the stored type ("float32", "float16", "int8", "uint8")."""
        return DTYPES[self.dtype][0]

    @property
    def size(self):
        """The number of values, as numpy's ndarray.size."""
        return self.count

    @property
    def nbytes(self):
        return DTYPES[self.dtype][1] * self.count

    def payload(self):
        """The stored values' bytes (no tag, no padding), without a copy."""
        return memoryview(self.buffer)[self.offset:self.offset + self.nbytes]

    def fp32_payload(self):
        """The bytes ModelWriter writes for these float32 values when it writes them unchanged (no
        value to flush to zero), else None; None too for a dtype other than float32."""
        if self.dtype != "<f4" or needs_flush(self.buffer, self.offset, self.offset + self.nbytes) is not False:
            return None
        return self.payload()

    def array(self):
        """The values as a 1-D writable numpy array in native byte order: a view of the file's bytes
        when the buffer is a bytearray, a copy of them when it is bytes (read_bin writable=False)
        (numpy is imported here, on first numeric use)."""
        import numpy as np
        values = np.frombuffer(self.buffer, self.dtype, self.count, self.offset)
        values = values.astype(np.dtype(self.dtype).newbyteorder("="), copy=False)
        return values if values.flags.writeable else values.copy()

    def __repr__(self):
        return "StoredArray(%s x %d at %d)" % (self.dtype_name, self.count, self.offset)


class StoredWeights(MutableMapping):
    """A layer's weights, name -> numpy array in .bin order, as read from a file: an entry stays a
    StoredArray until it is first read (then it is replaced by its array); assigned values are
    kept as given. `stored(name)` and `stored_items()` look at entries without reading them."""

    def __init__(self, entries=()):
        self._entries = dict(entries)

    def __getitem__(self, name):
        value = self._entries[name]
        if isinstance(value, StoredArray):
            value = self._entries[name] = value.array()
        return value

    def __setitem__(self, name, value):
        self._entries[name] = value

    def __delitem__(self, name):
        del self._entries[name]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self):
        return len(self._entries)

    def __contains__(self, name):
        return name in self._entries

    def stored(self, name):
        """The entry as it is: a StoredArray (not read yet) or the value assigned / read."""
        return self._entries[name]

    def stored_items(self):
        return list(self._entries.items())

    def copy(self):
        """A shallow copy, as dict.copy (StoredArray entries stay unread in both)."""
        return StoredWeights(self._entries)

    def __repr__(self):
        return "StoredWeights(%r)" % (self._entries,)


def stored_entry(weights, name):
    """weights[name] without reading a StoredArray (any mapping: a plain dict gives its value)."""
    return weights.stored(name) if isinstance(weights, StoredWeights) else weights[name]


def stored_items(weights):
    """(name, entry) pairs of any weights mapping, StoredArray entries left unread."""
    return weights.stored_items() if isinstance(weights, StoredWeights) else list(weights.items())


def dtype_name(entry):
    """numpy's dtype name of a weight entry without reading it ("" for a value without a dtype)."""
    if isinstance(entry, StoredArray):
        return entry.dtype_name
    dtype = getattr(entry, "dtype", None)
    return "" if dtype is None else str(dtype)


def reordered(weights, names):
    """The same entries in the order of `names` (the others after them), StoredArrays left unread;
    a StoredWeights stays one."""
    entries = dict(stored_items(weights))
    ordered = {name: entries[name] for name in names if name in entries}
    ordered.update(entries)
    return StoredWeights(ordered) if isinstance(weights, StoredWeights) else ordered
