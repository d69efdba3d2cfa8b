"""runtime/heap.py (glibc): numpy temporaries stop faulting the heap's pages in again, and every
thread shares one arena."""
import subprocess
import sys

import pytest

SCRIPT = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from ncnnlike.runtime.heap import keep_freed_pages
    assert keep_freed_pages()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
before = faults()
for _ in range(30):             # 38 MB of 3 MB temporaries, all freed: more than glibc keeps by default
    arrays = [np.ones(400_000) for _ in range(12)]
    del arrays
print(faults() - before)
"""


def _faults(mode):
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_kept_pages_are_reused_instead_of_faulted_in_again():
    kept, default = _faults("keep"), _faults("default")
    assert kept * 4 < default, (kept, default)


ARENAS = """
import ctypes, sys, threading
import numpy as np
if sys.argv[1] == "one":
    from ncnnlike.runtime.heap import one_arena
    assert one_arena()
def work():
    for _ in range(200):
        blocks = [np.ones(1000) for _ in range(20)]     # small blocks: from the thread's arena
        del blocks
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ctypes.CDLL(None).malloc_stats()                         # one "Arena k:" block per arena, on stderr
"""


def _arenas(mode):
    out = subprocess.run([sys.executable, "-c", ARENAS, mode], capture_output=True, text=True, check=True)
    return sum(line.startswith("Arena ") for line in out.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_one_arena_serves_every_thread():
    assert _arenas("one") == 1 and _arenas("default") > 1
