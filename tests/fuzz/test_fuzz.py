"""Property-based fuzzing of every file format and console script (issue 15).

For any damaged .param, .bin, .table, list file, image, .npy, ONNX model or command line:
  * the run ends with exit 0, or exit 2 and one printable `error: ...` line (no traceback, no
    signal, no hang, no library noise: harness.classify);
  * inputs are never modified, and no temporary file is left in the output folder;
  * a failed run leaves no output file that was not there before;
  * an output of a successful run loads: a .param/.bin pair in pip ncnn (which also runs it on a
    random input of the declared shape), a table in our reader, a JSON file in json.load.

Budget: NCNNLIKE_FUZZ_EXAMPLES cases per test (default 6, derandomized, so CI is fast and stable).
With NCNNLIKE_FUZZ_REPORT=path every case is appended to that JSON-lines file instead of failing the
test on the first bad outcome; `python tests/fuzz/report.py path` prints the counts. The long run:

    NCNNLIKE_FUZZ_EXAMPLES=3000 NCNNLIKE_FUZZ_REPORT=/tmp/fuzz.jsonl nice -n 19 python -m pytest -q tests/fuzz
"""
import functools
import json
import os
import shutil
import traceback

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fuzz import harness, mutate
from fuzz.argv import command, special_paths
from fuzz.corpus import Corpus
from fuzz.mutate_onnx import onnx_bytes
from ncnnlike.cli import model2int8, model2table, model_compare, model_optimize, onnx2model

EXAMPLES = int(os.environ.get("NCNNLIKE_FUZZ_EXAMPLES", "6"))
REPORT = os.environ.get("NCNNLIKE_FUZZ_REPORT")
TOOLS = {"onnx2model": onnx2model.main, "model-optimize": model_optimize.main, "model2table": model2table.main,
         "model2int8": model2int8.main, "model-compare": model_compare.main}

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=REPORT is None, database=None,
                phases=[Phase.generate] if REPORT else [Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-corpus")
    return Corpus(str(folder))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fuzz-cases"))


def _seed_files(corpus):
    return [os.path.join(corpus.folder, name) for name in sorted(os.listdir(corpus.folder))
            if os.path.isfile(os.path.join(corpus.folder, name))]


class Case:
    """One fuzz case's folder: files written for it, and its outputs."""

    def __init__(self, workdir):
        self.folder = os.path.join(workdir, "case")
        shutil.rmtree(self.folder, ignore_errors=True)
        os.makedirs(self.folder)

    def file(self, name, data):
        path = os.path.join(self.folder, name)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape"))
        return path

    def out(self, name):
        return os.path.join(self.folder, name)


def _check_outputs(outcome, outputs, existed, tool):
    """Problems with what a run left: refused pairs, unreadable tables, partial files."""
    problems = []
    present = [p for p in outputs if os.path.isfile(p) and not os.path.islink(p)]
    if outcome.kind != "ok":
        problems += ["failed run left %s" % p for p in present if p not in existed]
        return problems
    params = [p for p in present if p.endswith(".param")]
    for param in params:
        binfile = param[:-len(".param")] + ".bin"
        if binfile in present:
            refused = harness.ncnn_refuses(param, binfile)
            if refused:
                problems.append("pip ncnn refuses %s: %s" % (os.path.basename(param), refused))
    for path in present:
        if path.endswith(".table") and tool in ("model2table", "model-compare"):   # else a name given to a .bin
            from ncnnlike.quant.tablefile import read_table
            try:
                read_table(path)
            except Exception as exc:   # noqa: BLE001
                problems.append("our reader refuses our table: %s" % exc)
        if path.endswith(".json"):
            try:
                json.load(open(path))
            except ValueError as exc:
                problems.append("bad json: %s" % exc)
    return problems


def run_case(fmt, tool, argv, inputs, outputs, corpus, case):
    """Run one console script case and check every promise; report or assert."""
    seeds = _seed_files(corpus)
    before = (harness.fingerprint(inputs), harness.stat_fingerprint(seeds))
    existed = {p for p in outputs if os.path.exists(p)}
    outcome = harness.run_cli(TOOLS[tool], argv, cwd=case.folder)
    problems = []
    after = (harness.fingerprint(inputs), harness.stat_fingerprint(seeds))
    changed = [p for old, new in zip(before, after) for p in old if old[p] != new[p]]
    if changed:
        problems.append("inputs modified: %s" % changed)
    temps = harness.leftover_temps(case.folder) + harness.leftover_temps(corpus.folder)
    if temps:
        problems.append("temp files left: %s" % temps)
    problems += _check_outputs(outcome, outputs, existed, tool)
    record(fmt, tool, argv, outcome, problems, case)


def record(fmt, tool, argv, outcome, problems, case=None):
    """Append the case to the report (a bad case's folder is kept beside it, for reproduction),
    or fail the test on a bad outcome."""
    bad = outcome.kind not in harness.ACCEPTABLE or problems
    if REPORT and bad and case is not None:
        keep = "%s.cases/%s-%d" % (REPORT, fmt, sum(1 for _ in open(REPORT)) if os.path.exists(REPORT) else 0)
        shutil.copytree(case.folder, keep, dirs_exist_ok=True, ignore_dangling_symlinks=True)
        problems = problems + ["kept in %s" % keep]
    if REPORT:
        with open(REPORT, "a") as f:
            f.write(json.dumps({"format": fmt, "tool": tool, "outcome": outcome.kind, "problems": problems,
                                "seconds": round(outcome.seconds, 3),
                                "argv": [a.encode("utf-8", "backslashreplace").decode() for a in argv],
                                "stderr": _clip(outcome.stderr) if bad else ""}) + "\n")
        return
    assert not bad, "%s %s %s: %s %s" % (fmt, tool, argv, outcome.summary(), problems)


def _clip(text):
    """The start and the end of a long stderr (a traceback's first and last lines)."""
    return text if len(text) <= 1200 else text[:400] + "\n...\n" + text[-800:]


def reporting(test):
    """In report mode an exception of the harness itself is recorded with its traceback (so a long
    run goes on and the report shows it); otherwise it fails the test as usual."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        try:
            return test(*args, **kwargs)
        except Exception:   # noqa: BLE001
            if not REPORT:
                raise
            outcome = harness.Outcome("harness", -1, traceback.format_exc())
            record(test.__name__, "harness", [], outcome, ["harness error"])
    return run


# ---------------------------------------------------------------- formats

@FUZZ
@given(st.data())
@reporting
def test_damaged_param_files(corpus, workdir, data):
    case = Case(workdir)
    param, binfile = data.draw(st.sampled_from(corpus.models + corpus.int8_models))
    text = data.draw(mutate.param_text(open(param, encoding="utf-8").read()))
    bad_param = case.file("in.param", text)
    bad_bin = binfile
    if data.draw(st.integers(0, 3)) > 0:   # most often a .bin sized from the damaged params
        bad_bin = case.file("in.bin", b"")
        code, _, _ = harness.run_forked(_random_bin, bad_param, bad_bin, timeout=60)
        if code != 0:
            bad_bin = binfile
    outs = [case.out("o.param"), case.out("o.bin")]
    tool = data.draw(st.sampled_from(["model-optimize", "model2int8", "runtime"]))
    if tool == "runtime":
        return run_api(bad_param, bad_bin, corpus, case)
    argv = [bad_param, bad_bin, *outs] + (["0"] if tool == "model-optimize" else [])
    run_case("param", tool, argv, [bad_param, bad_bin], outs, corpus, case)


def _random_bin(param, binfile):
    """A .bin sized from the (mutated) params, so the case gets past the size check; 1 if it cannot."""
    import warnings
    from ncnnlike.io.bin import write_bin
    from ncnnlike.io.param import read_param
    from ncnnlike.io.random_weights import fill_random
    from ncnnlike.layers.base import weight_specs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            graph = read_param(param)
        except Exception:   # noqa: BLE001
            return 1
    if sum(max(s.count, 0) for layer in graph.layers for s in weight_specs(layer)) > 1 << 24:
        return 1
    fill_random(graph, 0)
    write_bin(graph, binfile)
    return 0


def _api_entry(param, binfile):
    """The Python API on a model: load it and run it on random inputs; NcnnlikeError is the one
    acceptable failure (exit 2), anything else a traceback."""
    from ncnnlike.errors import NcnnlikeError
    from ncnnlike.runtime import Net
    try:
        inputs = harness.declared_inputs(param)
        net = Net()
        net.opt.num_threads = 1
        net.load_param(param)
        net.load_model(binfile)
        feeds = {name: np.random.default_rng(0).standard_normal((1,) + tuple(shape)).astype(np.float32)
                 for name, shape in inputs.items()}
        if feeds:
            net.run(feeds, net.output_names())
    except NcnnlikeError as exc:
        print("error: %s" % exc)
        return 2
    return 0


def run_api(param, binfile, corpus, case):
    code, text, seconds = harness.run_forked(_api_entry, param, binfile)
    outcome = harness.Outcome(harness.classify(code, text), code if code is not None else -999, text, seconds)
    record("param", "runtime", [param, binfile], outcome, [], case)


@FUZZ
@given(st.data())
@reporting
def test_damaged_bin_files(corpus, workdir, data):
    case = Case(workdir)
    param, binfile = data.draw(st.sampled_from(corpus.models[:4] + corpus.int8_models))
    bad_bin = case.file("in.bin", data.draw(mutate.damaged_bytes(open(binfile, "rb").read())))
    outs = [case.out("o.param"), case.out("o.bin")]
    tool = data.draw(st.sampled_from(["model-optimize", "model2int8"]))
    argv = [param, bad_bin, *outs] + (["0"] if tool == "model-optimize" else [])
    run_case("bin", tool, argv, [bad_bin], outs, corpus, case)


@FUZZ
@given(st.data())
@reporting
def test_damaged_tables(corpus, workdir, data):
    case = Case(workdir)
    table = case.file("in.table", data.draw(mutate.table_text(open(corpus.table, encoding="utf-8").read())))
    outs = [case.out("o.param"), case.out("o.bin")]
    run_case("table", "model2int8", [*corpus.tiny, *outs, table], [table], outs, corpus, case)


@FUZZ
@given(st.data())
@reporting
def test_damaged_images_and_lists(corpus, workdir, data):
    case = Case(workdir)
    jpeg, png = open(corpus.jpegs[0], "rb").read(), open(corpus.pngs[0], "rb").read()
    paths = []
    for i in range(data.draw(st.integers(1, 4))):
        content, suffix = data.draw(mutate.image_file(jpeg, png))
        paths.append(case.file("s%d%s" % (i, suffix), content))
    paths += data.draw(st.lists(st.sampled_from(["missing.jpg", case.folder, "\x1b[2J\r.jpg", "\udcff.png"]),
                                max_size=1))
    listfile = case.file("list.txt", "\n".join(paths) + "\n")
    out = case.out("o.table")
    extra = data.draw(st.lists(st.sampled_from(["skip_bad=1", "method=aciq", "thread=1", "batch=1", "pixel=GRAY",
                                                "shape=[0,32]", "shape=[32,0]", "mean=[1e38]", "norm=[1e38]"]),
                               max_size=2, unique=True))
    shape = [] if any(e.startswith("shape=") for e in extra) else ["shape=[32,32,3]"]
    argv = [*corpus.tiny, listfile, out, "thread=2"] + shape + [e for e in extra if not e.startswith("thread")]
    run_case("image", "model2table", argv, paths + [listfile], [out], corpus, case)


@FUZZ
@given(st.data())
@reporting
def test_damaged_npy_samples(corpus, workdir, data):
    case = Case(workdir)
    paths = [case.file("x%d.npy" % i, data.draw(mutate.npy_file())) for i in range(data.draw(st.integers(1, 3)))]
    listfile = case.file("list.txt", "\n".join(paths) + "\n")
    out = case.out("o.table")
    argv = [*corpus.tiny, listfile, out, "type=1", "shape=[32,32,3]", "thread=1"]
    run_case("npy", "model2table", argv, paths + [listfile], [out], corpus, case)


@FUZZ
@given(st.data())
@reporting
def test_damaged_onnx_models(corpus, workdir, data):
    case = Case(workdir)
    model = case.file("in.onnx", data.draw(onnx_bytes(open(corpus.tiny_onnx, "rb").read())))
    outs = [case.out("o.param"), case.out("o.bin")]
    run_case("onnx", "onnx2model", [model, *outs], [model], outs, corpus, case)


@FUZZ
@given(st.data())
@reporting
def test_bad_command_lines(corpus, workdir, data):
    case = Case(workdir)
    specials = special_paths(workdir, corpus)
    tool, argv, outs = data.draw(command(corpus, case.folder, specials))
    # the symlink's target must survive; the control-character name is an output target (earlier runs made it)
    inputs = [os.path.realpath(p) for p in specials if os.path.islink(p)]
    run_case("argv", tool, argv, inputs, outs, corpus, case)
