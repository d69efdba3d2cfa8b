"""Calibration runs on worker threads, each running whole samples on one core, as ncnn2table does.

onnxruntime's intra-op threads split every layer of one run between the cores and wait for each
other at each layer. Measured on Lite0 with 2 cores: phase 1 took 13.2 ms of wall and 21.6 ms of
CPU a sample on one run with 2 intra-op threads, 8.7 and 16.4 ms with 2 workers running a sample
each on one thread; phase 2 (run, then bin) 32.9 / 41.7 -> 19.8 / 36.3 ms, a worker's binning
running beside the other worker's inference instead of after it.

The statistics the workers gather are minima, maxima and integer counts: merged, they do not
depend on which worker ran which sample. What must follow the list order (the first samples kept
for method=auto) goes through an InOrder gate.
"""
import itertools
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager

_END = object()


class Stopped(Exception):
    """Raised in a worker waiting at an InOrder gate when another worker failed."""


class InOrder:
    """Lets the items 0, 1, 2, ... through one at a time, in index order, whichever worker holds them."""

    def __init__(self):
        self._next = 0
        self._broken = False
        self._cond = threading.Condition()

    @contextmanager
    def turn(self, index):
        with self._cond:
            self._cond.wait_for(lambda: self._next == index or self._broken)
            if self._broken:
                raise Stopped()
        try:
            yield
        finally:
            with self._cond:
                self._next = index + 1
                self._cond.notify_all()

    def abort(self):
        with self._cond:
            self._broken = True
            self._cond.notify_all()


def run_workers(items, workers, start, work, gate=None):
    """Call work(state, index, item) for every item of the iterable `items` (index = its position),
    on `workers` threads; each thread's state comes from start(). Items are taken in order, one at a
    time; the first exception stops every worker (and aborts `gate`) and is raised here.
    Returns [(state, index of the last item that worker took, or -1)], one per worker."""
    items, counter = iter(items), itertools.count()
    take, stop = threading.Lock(), threading.Event()

    def loop():
        state, last = start(), -1
        while not stop.is_set():
            with take:
                item = next(items, _END)
                index = next(counter)
            if item is _END:
                break
            work(state, index, item)
            last = index
        return state, last

    with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
        futures = [pool.submit(loop) for _ in range(max(1, int(workers)))]
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in done if f.exception() is not None]
            if failed:
                raise _first_cause([f.exception() for f in failed])
        except BaseException:
            stop.set()
            if gate is not None:
                gate.abort()
            raise
        return [f.result() for f in futures]


def _first_cause(errors):
    """The error to report: a real one rather than the Stopped of a worker that only waited."""
    return next((e for e in errors if not isinstance(e, Stopped)), errors[0])
