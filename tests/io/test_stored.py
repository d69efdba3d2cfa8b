"""Weights kept as the file's bytes until read (io/stored.py): the flush proof agrees with numpy's
flush on every kind of value, reading gives the arrays read_bin always gave, and a graph written
from unread weights has the bytes the numpy writer gives."""
import io

import numpy as np
import pytest

from helpers import can_build_extensions, layer
from ncnnlike.graph import Graph
from ncnnlike.io.bin import TAG_FP16, TAG_INT8, dump_bin, flush_denormals, read_bin
from ncnnlike.io import stored
from ncnnlike.io.stored import (FLUSH_BELOW_F32, FLUSH_LIMIT_BITS, MAX_CANDIDATES, StoredArray, StoredWeights,
                                dtype_name, needs_flush, reordered, scan_high_bytes, stored_entry)

LIMIT = np.float32(FLUSH_BELOW_F32)
BELOW = np.nextafter(LIMIT, np.float32(0))


def numpy_flushes(values):
    values = np.asarray(values, np.float32)
    return not np.array_equal(flush_denormals(values).view(np.uint32), values.view(np.uint32))


def test_the_limit_is_the_least_float32_not_below_1e_30():
    assert float(LIMIT) >= 1e-30 > float(BELOW)


@pytest.mark.parametrize("values", [
    [0.0, -0.0, 1.0, -2.5],
    [BELOW], [-BELOW], [LIMIT, -LIMIT],
    [np.float32(2.0 ** -126)], [np.float32(1e-45)], [np.float32(-1e-40)],   # normal and subnormal tiny
    [np.float32(2.0 ** -99), np.float32(2.0 ** -100)],                       # around the limit's exponent
    [np.inf, -np.inf, np.nan, 3e38],
])
@pytest.mark.parametrize("check", [needs_flush, scan_high_bytes], ids=["compiled", "python"])
def test_needs_flush_agrees_with_numpy(values, check):
    data = bytearray(b"\xff" * 8 + np.asarray(values, "<f4").tobytes() + b"\xff" * 4)
    assert check(data, 8, len(data) - 4) == numpy_flushes(values)
    assert check(bytes(data), 8, len(data) - 4) == numpy_flushes(values)


@pytest.mark.parametrize("check", [needs_flush, scan_high_bytes], ids=["compiled", "python"])
def test_needs_flush_on_random_data_with_tiny_values_planted(check):
    rng = np.random.default_rng(0)
    values = rng.standard_normal(10000).astype(np.float32)
    values[::97] = 0
    data = bytearray(values.astype("<f4").tobytes())
    assert check(data, 0, len(data)) is False
    values[5000] = np.float32(-3e-31)
    data = bytearray(values.astype("<f4").tobytes())
    assert check(data, 0, len(data)) is True
    assert check(data, 0, 5000 * 4) is False and check(data, 5000 * 4, 5001 * 4) is True


@pytest.mark.skipif(not can_build_extensions(), reason="no C compiler or no Python headers here")
def test_the_compiled_scan_is_built():
    """setup.py builds it wherever a C compiler is found (as on CI)."""
    assert stored._flush is not None


@pytest.mark.skipif(stored._flush is None, reason="installed without the compiled scan")
def test_the_compiled_scan_checks_its_arguments():
    data = bytes(16)
    for start, stop in [(-4, 8), (8, 4), (0, 20), (0, 6)]:
        with pytest.raises(ValueError):
            stored._flush.needs_flush(data, start, stop, FLUSH_LIMIT_BITS)


def test_the_python_scan_gives_up_on_too_many_zeros():
    data = bytearray(4 * (MAX_CANDIDATES + 1))
    assert scan_high_bytes(data, 0, len(data)) is None
    assert scan_high_bytes(data, 0, 4 * MAX_CANDIDATES) is False


@pytest.mark.skipif(stored._flush is None, reason="installed without the compiled scan")
def test_the_compiled_scan_answers_where_the_python_one_gives_up():
    data = bytearray(4 * (MAX_CANDIDATES + 1))
    assert needs_flush(data, 0, len(data)) is False


def test_stored_array_reads_as_the_native_array_and_writes_its_bytes_only_when_nothing_flushes():
    values = np.float32([1.5, -0.0, BELOW, 7])
    buffer = bytearray(bytes(4) + values.astype("<f4").tobytes())
    clean = StoredArray(buffer, 4, "<f4", 2)
    assert dtype_name(clean) == "float32" and clean.nbytes == 8
    assert bytes(clean.fp32_payload()) == values[:2].tobytes()
    assert StoredArray(buffer, 4, "<f4", 4).fp32_payload() is None
    array = StoredArray(buffer, 4, "<f4", 4).array()
    assert array.dtype == np.float32 and array.flags.writeable and array.tobytes() == values.tobytes()
    array[0] = 2.0                                     # a view of the file's bytes, as read_bin always gave
    assert clean.array()[0] == 2.0
    assert StoredArray(buffer, 4, "<f2", 3).fp32_payload() is None


def test_stored_weights_read_entries_on_first_use_and_peek_without_reading():
    buffer = bytearray(np.float32([1, 2, 3]).tobytes())
    weights = StoredWeights({"a": StoredArray(buffer, 0, "<f4", 2), "b": np.int8([1])})
    assert list(weights) == ["a", "b"] and len(weights) == 2 and "a" in weights and "c" not in weights
    assert isinstance(stored_entry(weights, "a"), StoredArray)
    assert dtype_name(stored_entry(weights, "b")) == "int8"
    copy = weights.copy()
    assert weights["a"].tolist() == [1.0, 2.0]
    assert isinstance(weights.stored("a"), np.ndarray) and isinstance(copy.stored("a"), StoredArray)
    moved = reordered(copy, ["b", "a"])
    assert isinstance(moved, StoredWeights) and list(moved) == ["b", "a"]
    assert isinstance(moved.stored("a"), StoredArray)
    assert list(reordered({"x": 1, "y": 2}, ["y"])) == ["y", "x"]
    del weights["b"]
    weights["c"] = np.float32([4])
    assert list(weights) == ["a", "c"] and dict(weights)["c"].tolist() == [4.0]


def _graph():
    return Graph([layer("Input", "in", [], ["x"]),
                  layer("Convolution", "c", ["x"], ["y"], {0: 2, 1: 1, 6: 6, 5: 1}),
                  layer("PReLU", "p", ["y"], ["z"], {0: 2})])


def _bin_bytes(graph, fp16=False):
    f = io.BytesIO()
    dump_bin(graph, f, fp16)
    return f.getvalue()


@pytest.mark.parametrize("weight_tag,weight", [
    (0, np.float32([1, -2, BELOW, 0, -0.0, 3e-31])),                 # fp32 with values to flush
    (0, np.float32([1, -2, 0.5, 0, -0.0, 1e-20])),                   # fp32 written as read
    (TAG_FP16, np.float16([1, -2, 0.5, 0, -0.0, 1e-3])),
    (TAG_INT8, np.int8([1, -2, 5, 0, 127, -127])),
])
@pytest.mark.parametrize("fp16", [False, True])
def test_unread_weights_write_the_bytes_of_the_numpy_writer(tmp_path, weight_tag, weight, fp16):
    payload = weight.tobytes()
    data = (weight_tag.to_bytes(4, "little") + payload + bytes(-len(payload) % 4)
            + np.float32([0.25, BELOW]).tobytes()           # bias (raw): one value to flush
            + np.float32([-0.5, 1e-38]).tobytes())          # PReLU slopes (raw)
    path = tmp_path / "m.bin"
    path.write_bytes(data)
    unread, arrays = _graph(), _graph()
    read_bin(unread, str(path))
    read_bin(arrays, str(path))
    for each in arrays.layers:
        each.weights = {name: np.array(values) for name, values in each.weights.items()}   # plain arrays
    assert isinstance(unread.layer("c").weights.stored("weight_data"), StoredArray)
    assert _bin_bytes(unread, fp16) == _bin_bytes(arrays, fp16)
    assert unread.layer("c").weights["weight_data"].dtype == weight.dtype


def test_a_weight_changed_in_place_after_reading_is_written_changed(tmp_path):
    path = tmp_path / "m.bin"
    path.write_bytes(bytes(4) + np.float32([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).tobytes())
    graph = _graph()
    read_bin(graph, str(path))
    graph.layer("c").weights["weight_data"][0] = 42
    written = np.frombuffer(_bin_bytes(graph)[4:8], "<f4")
    assert written[0] == 42


def test_a_bin_read_as_bytes_gives_writable_copies_and_writes_the_same_file(tmp_path):
    """read_bin(writable=False) (model-optimize: no zero-filled buffer first) keeps the file as bytes;
    a weight read as numbers is then a writable copy, and the file written back is the same."""
    path = tmp_path / "m.bin"
    path.write_bytes(bytes(4) + np.float32([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).tobytes())
    graph = _graph()
    read_bin(graph, str(path), writable=False)
    assert isinstance(graph.layer("c").weights.stored("weight_data").buffer, bytes)
    assert _bin_bytes(graph) == path.read_bytes()
    values = graph.layer("c").weights["weight_data"]
    assert values.flags.writeable and values.tolist() == [1, 2, 3, 4, 5, 6]   # 6 conv weights (bias, prelu after)
    values[0] = 42
    assert np.frombuffer(_bin_bytes(graph)[4:8], "<f4")[0] == 42
