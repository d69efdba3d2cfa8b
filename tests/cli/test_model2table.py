"""model2table against the real ncnn2table's tables (PNG inputs: decoders agree bit for bit)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import REFERENCE
from ncnnlike.cli.model2table import main
from ncnnlike.quant.tablefile import read_table

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
TINY = os.path.join(REFERENCE, "tiny")
LITE0 = os.path.join(REFERENCE, "lite0")
TINY_OPTS = ["mean=[104,117,123]", "norm=[0.017,0.017,0.017]", "shape=[32,32,3]", "pixel=BGR"]
LITE0_OPTS = ["mean=[127,127,127]", "norm=[0.0078125,0.0078125,0.0078125]", "shape=[224,224,3]", "pixel=RGB"]


def values(path):
    """key -> float64 values of a table (weight and blob lines together)."""
    table = read_table(path)
    lines = {}
    for group in (table.weights, table.blobs):
        for key, line in group.items():
            lines[key] = np.asarray(line.values, np.float64)
    return lines


def assert_close_to_ncnn(ours, theirs, rel=0.005):
    """Every scale within `rel` of ncnn's; finite where ncnn wrote inf (its all-zero channels)."""
    assert list(ours) == list(theirs)
    for key in theirs:
        a, b = ours[key], theirs[key]
        assert a.shape == b.shape, key
        finite = np.isfinite(b)
        assert np.all(np.isfinite(a)), key
        np.testing.assert_allclose(a[finite], b[finite], rtol=rel, err_msg=key)


def run(tmp_path, model_dir, model, listfile, opts, method, thread=2, name="out.table"):
    out = str(tmp_path / name)
    assert main([os.path.join(model_dir, model + ".param"), os.path.join(model_dir, model + ".bin"),
                 os.path.join(model_dir, listfile), out, *opts, "thread=%d" % thread, "method=" + method]) == 0
    return out


@pytest.mark.parametrize("method", ["kl", "aciq"])
def test_tiny_table_within_half_percent_of_ncnn2table(tmp_path, method):
    out = run(tmp_path, TINY, "tiny-opt", "calib20-png.txt", TINY_OPTS, method)
    ours, theirs = values(out), values(os.path.join(TINY, "tiny-png-%s.table" % method))
    assert_close_to_ncnn(ours, theirs)
    weight_keys = [k for k in theirs if k.endswith("_param_0")]
    for key in weight_keys:  # weight scales equal to the printed digits
        np.testing.assert_array_equal(ours[key], theirs[key])


@pytest.mark.parametrize("method", ["kl", "aciq"])
def test_lite0_table_within_half_percent_of_ncnn2table_and_unchanged_byte_for_byte(tmp_path, method):
    """Close to the real ncnn2table's table; and byte for byte the table our calibration made before
    it was made faster (golden/: single session, uint8 input cache, memory-capped runs, pass 2 in
    three segments changed nothing; 12 of the 100 lines differ from ncnn's in the last digits, its
    float arithmetic)."""
    out = run(tmp_path, LITE0, "lite0-opt", "calib100-png.txt", LITE0_OPTS, method)
    ours, theirs = values(out), values(os.path.join(LITE0, "lite0-png-%s.table" % method))
    assert_close_to_ncnn(ours, theirs)
    for key in [k for k in theirs if k.endswith("_param_0")]:
        finite = np.isfinite(theirs[key])
        np.testing.assert_array_equal(ours[key][finite], theirs[key][finite])
    with open(out, "rb") as f, open(os.path.join(GOLDEN, "lite0-png-%s.ncnnlike.table" % method), "rb") as g:
        assert f.read() == g.read()


def test_thread_count_does_not_change_table_bytes(tmp_path):
    one = run(tmp_path, TINY, "tiny-opt", "calib20-png.txt", TINY_OPTS, "kl", thread=1, name="t1.table")
    two = run(tmp_path, TINY, "tiny-opt", "calib20-png.txt", TINY_OPTS, "kl", thread=2, name="t2.table")
    assert open(one, "rb").read() == open(two, "rb").read()


@pytest.mark.parametrize("method", ["minmax", "percentile", "mse"])
def test_other_methods_write_finite_positive_scales(tmp_path, method):
    out = run(tmp_path, TINY, "tiny-opt", "calib20-png.txt", TINY_OPTS, method)
    for key, v in values(out).items():
        assert np.all(np.isfinite(v)) and np.all(v > 0), key


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ncnnlike.cli.model2table", *args], capture_output=True,
                          text=True, cwd=cwd)


@pytest.mark.parametrize("extra, message", [
    (["colour=1"], "unknown option 'colour='"),
    (["thread=0"], "thread=0"),
    (["norm=[0,0,0]"], "norm"),
    (["method=best"], "unknown method"),
    (["mean=[1,2,3],[4]"], "mean= has 2 lists"),
])
def test_bad_options_fail_with_one_line_and_no_table(tmp_path, extra, message):
    out = tmp_path / "bad.table"
    opts = [o for o in TINY_OPTS if o.split("=")[0] not in {e.split("=")[0] for e in extra}] + extra
    r = cli(os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"),
            os.path.join(TINY, "calib20-png.txt"), str(out), *opts)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len([l for l in r.stderr.splitlines() if l.startswith("error")]) == 1
    assert not out.exists()


def test_unreadable_image_names_file_and_list_line(tmp_path):
    listfile = tmp_path / "list.txt"
    listfile.write_text(os.path.join(TINY, "tiny-opt.param") + "\n")
    out = tmp_path / "bad.table"
    r = cli(os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"), str(listfile), str(out),
            *TINY_OPTS)
    assert r.returncode == 2 and "tiny-opt.param" in r.stderr and "line 1" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def test_list_count_must_match_inputs(tmp_path):
    out = tmp_path / "bad.table"
    lst = os.path.join(TINY, "calib20-png.txt")
    r = cli(os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"), lst + "," + lst, str(out),
            *TINY_OPTS)
    assert r.returncode == 2 and "2 list files" in r.stderr and not out.exists()


NCNN2INT8 = os.path.join(os.path.dirname(REFERENCE), "ncnn-tools", "ncnn2int8")


@pytest.mark.parametrize("correct", ["bias", "bias,round"])
def test_auto_with_corrections_writes_a_table_and_an_adjust_file_model2int8_applies(tmp_path, correct):
    """method=auto correct=...: an ncnn table plus the weights-adjustment file, which our model2int8
    applies to every layer the table quantizes (the corrected float bias; rounding: the weights)."""
    from ncnnlike.cli.model2int8 import main as model2int8
    from ncnnlike.io.model import load_model
    from ncnnlike.quant.adjustfile import read_adjust
    param, binfile = (os.path.join(TINY, "tiny-opt." + ext) for ext in ("param", "bin"))
    table, adjust = tmp_path / "auto.table", tmp_path / "auto.adjust"
    assert main([param, binfile, os.path.join(TINY, "calib20-png.txt"), str(table), *TINY_OPTS, "thread=1",
                 "method=auto", "correct=" + correct, "adjust=" + str(adjust)]) == 0
    entries = read_adjust(str(adjust))
    assert list(entries) == list(read_table(str(table)).blobs)
    assert all(e.bias is not None for e in entries.values())
    out = [str(tmp_path / ("ours." + ext)) for ext in ("param", "bin")]
    assert model2int8([param, binfile, *out, str(table), "adjust=" + str(adjust)]) == 0
    plain = [str(tmp_path / ("plain." + ext)) for ext in ("param", "bin")]
    assert model2int8([param, binfile, *plain, str(table)]) == 0
    graph, unadjusted = load_model(*out), load_model(*plain)
    for name, entry in entries.items():
        assert np.array_equal(graph.layer(name).weights["bias_data"], entry.bias)
        assert not np.array_equal(unadjusted.layer(name).weights["bias_data"], entry.bias)
    rounded = [n for n in entries if not np.array_equal(graph.layer(n).weights["weight_data"],
                                                        unadjusted.layer(n).weights["weight_data"])]
    assert bool(rounded) == ("round" in correct)


@pytest.mark.skipif(not os.access(NCNN2INT8, os.X_OK), reason="the real ncnn2int8 is not in ../shared/ncnn-tools")
def test_the_real_ncnn2int8_converts_with_our_auto_table(tmp_path):
    """The auto table stays ncnn's format: the real ncnn2int8 quantizes every layer it lists, as our
    model2int8 does (without the adjust file, which only ours reads)."""
    from ncnnlike.cli.model2int8 import main as model2int8
    from ncnnlike.io.model import load_model
    from ncnnlike.quant.convert import quantized_layers
    param, binfile = (os.path.join(TINY, "tiny-opt." + ext) for ext in ("param", "bin"))
    table = tmp_path / "auto.table"
    assert main([param, binfile, os.path.join(TINY, "calib20-png.txt"), str(table), *TINY_OPTS, "thread=1",
                 "method=auto", "correct=bias", "adjust=" + str(tmp_path / "auto.adjust")]) == 0
    real = [str(tmp_path / ("real." + ext)) for ext in ("param", "bin")]
    r = subprocess.run([NCNN2INT8, param, binfile, *real, str(table)], capture_output=True, text=True)
    log = r.stdout + r.stderr
    layers = list(read_table(str(table)).blobs)
    quantized = {line.split()[-1] for line in log.splitlines() if line.startswith("quantize_")}
    assert r.returncode == 0 and quantized == set(layers), log
    assert "error" not in log.lower() and "nan" not in log.lower()
    ours = [str(tmp_path / ("ours." + ext)) for ext in ("param", "bin")]
    assert model2int8([param, binfile, *ours, str(table)]) == 0
    assert sorted(quantized_layers(load_model(*real))) == sorted(quantized_layers(load_model(*ours))) == sorted(layers)


@pytest.mark.parametrize("extra, message", [
    (["correct=bias"], "correct= and adjust= go together"),
    (["correct=clip", "adjust=x.adjust"], "correct=clip: expected bias, round or bias,round"),
])
def test_correct_needs_adjust_and_known_corrections(tmp_path, extra, message):
    r = cli(os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"),
            os.path.join(TINY, "calib20-png.txt"), str(tmp_path / "t.table"), *TINY_OPTS, *extra)
    assert r.returncode == 2 and message in r.stderr and not (tmp_path / "t.table").exists()
