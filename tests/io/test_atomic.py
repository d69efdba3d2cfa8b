"""Output safety (io/atomic.py, issue 15): temp file beside the target, fsync, rename; never over a
non-regular file, an input or another output; the .param/.bin pair never mismatched, even under
SIGKILL; temp files removed on every exit path."""
import os
import random
import signal
import stat
import time

import numpy as np
import pytest

from helpers import layer
from ncnnlike.errors import NcnnlikeError
from ncnnlike.graph import Graph
from ncnnlike.io.atomic import atomic_files, atomic_open, check_outputs
from ncnnlike.io.model import load_model, save_model


def memorydata_graph(width, value):
    """One MemoryData layer of `width` values: .param and .bin of two widths cannot be mixed."""
    return Graph([layer("MemoryData", "m", [], ["y"], {0: width}, {"data": np.full(width, value, np.float32)})])


def temps(folder):
    return [name for name in os.listdir(folder) if name.endswith(".tmp")]


@pytest.mark.parametrize("kind", ["fifo", "symlink", "folder", "device"])
def test_a_non_regular_target_is_refused_and_left_as_it_is(tmp_path, kind):
    target = tmp_path / "out.param"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        (tmp_path / "real.param").write_text("keep\n")
        os.symlink(tmp_path / "real.param", target)
    elif kind == "folder":
        target.mkdir()
    else:
        try:
            os.mknod(target, stat.S_IFCHR | 0o666, os.makedev(1, 3))   # a /dev/null of our own
        except PermissionError:
            pytest.skip("creating a device node needs root")
    before = os.lstat(target)
    with pytest.raises(NcnnlikeError, match=r"out\.param: is a .*not a regular file: refusing to replace it"):
        save_model(memorydata_graph(4, 1.0), str(target), str(tmp_path / "out.bin"))
    after = os.lstat(target)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert not (tmp_path / "out.bin").exists() and not temps(tmp_path)
    if kind == "symlink":
        assert (tmp_path / "real.param").read_text() == "keep\n"


def test_output_equal_to_an_input_is_refused_before_any_work(tmp_path):
    src = tmp_path / "in.param"
    src.write_text("x")
    with pytest.raises(NcnnlikeError, match=r"output .*in\.param is the input .*in\.param"):
        check_outputs([str(src), str(tmp_path / "o.bin")], [str(src), str(tmp_path / "in.bin")])
    os.link(src, tmp_path / "hard.param")                       # the same file under another name
    with pytest.raises(NcnnlikeError, match="is the input"):
        check_outputs([str(tmp_path / "hard.param")], [str(src)])
    os.symlink(tmp_path, tmp_path / "again")                     # the same file through a linked folder
    with pytest.raises(NcnnlikeError, match="is the input"):
        check_outputs([str(tmp_path / "again" / "in.param")], [str(src)])


def test_two_outputs_with_one_name_are_refused(tmp_path):
    with pytest.raises(NcnnlikeError, match="are the same file"):
        check_outputs([str(tmp_path / "o.param"), str(tmp_path / "." / "o.param")])


def test_model_optimize_refuses_out_equal_in_and_leaves_the_input(tmp_path, capsys):
    from ncnnlike.cli.model_optimize import main
    param, binfile = str(tmp_path / "m.param"), str(tmp_path / "m.bin")
    save_model(memorydata_graph(4, 1.0), param, binfile)
    before = open(binfile, "rb").read()
    assert main([param, binfile, str(tmp_path / "o.param"), binfile, "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is the input" in err
    assert open(binfile, "rb").read() == before and not (tmp_path / "o.param").exists()


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(NcnnlikeError, match="folder .*nowhere does not exist"):
        save_model(memorydata_graph(4, 1.0), str(tmp_path / "nowhere" / "o.param"), str(tmp_path / "o.bin"))


def test_a_failed_write_leaves_neither_file_nor_temp(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with atomic_files(str(tmp_path / "a"), str(tmp_path / "b")) as (ta, tb):
            open(ta, "w").write("half")
            1 / 0
    assert os.listdir(tmp_path) == []


def test_atomic_open_replaces_a_regular_file_only_when_complete(tmp_path):
    path = tmp_path / "t.table"
    path.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(str(path)) as f:
            f.write("new\n")
            raise RuntimeError
    assert path.read_text() == "old\n"
    with atomic_open(str(path)) as f:
        f.write("new\n")
    assert path.read_text() == "new\n" and not temps(tmp_path)


def _writer_loop(param, binfile):
    """Child: save pairs of alternating widths as fast as it can, until killed."""
    k = 0
    while True:
        k += 1
        save_model(memorydata_graph(1000 if k % 2 else 3000, float(k)), param, binfile)


def test_pair_commit_under_sigkill_at_random_points_never_leaves_a_mismatched_pair(tmp_path):
    """A .param from one save beside the .bin of another would load wrong weights or fail: after a
    SIGKILL at any moment, either no .param exists or the pair loads and its values agree."""
    param, binfile = str(tmp_path / "o.param"), str(tmp_path / "o.bin")
    rng = random.Random(15)
    seen = set()
    for _ in range(25):
        pid = os.fork()
        if pid == 0:
            try:
                _writer_loop(param, binfile)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.0, 0.08))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if os.path.exists(param):
            graph = load_model(param, binfile)                 # raises on a width mismatch
            data = graph.layers[0].weights["data"]
            assert np.all(data == data[0])
            seen.add(data.size)
        else:
            seen.add("no param")
    save_model(memorydata_graph(8, 1.0), param, binfile)     # the next writer removes dead writers' temps
    assert not temps(tmp_path), temps(tmp_path)
    assert {1000, 3000} & seen


def test_sigterm_removes_the_temp_files(tmp_path):
    """The CLI turns SIGTERM into an exception, so the `finally` of atomic_files runs."""
    from ncnnlike.cli.common import run_main
    target = str(tmp_path / "big.bin")

    def slow_writer(argv):
        with atomic_files(target) as (tmp,):
            with open(tmp, "wb") as f:
                f.write(b"x" * 100)
                f.flush()
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
        return 0

    assert run_main(slow_writer, []) == 128 + signal.SIGTERM
    assert os.listdir(tmp_path) == []
