"""Worker threads of calibration: every item once, errors raised without hanging, in-order turns."""
import threading
import time

import numpy as np
import pytest

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.calibrate import collect_histograms
from ncnnlike.quant.samples import BlobSamples
from ncnnlike.quant.workers import InOrder, run_workers
from test_calibrate import one_pass, tiny  # noqa: F401  (fixtures)


def test_every_item_runs_once_and_each_worker_keeps_its_state():
    results = run_workers(range(100), 3, list, lambda state, index, item: state.append((index, item)))
    seen = sorted(pair for state, _ in results for pair in state)
    assert seen == [(i, i) for i in range(100)]
    assert [last for _, last in results if last >= 0] == [max(i for i, _ in state) for state, _ in results if state]


def test_the_first_real_error_is_raised_and_waiters_at_the_gate_are_released():
    gate = InOrder()

    def work(state, index, item):
        if index == 0:
            time.sleep(0.05)       # item 1 waits at the gate for item 0, which fails
            raise NcnnlikeError("damaged sample 0")
        with gate.turn(index):
            pass

    started = time.perf_counter()
    with pytest.raises(NcnnlikeError, match="damaged sample 0"):
        run_workers(range(10), 2, lambda: None, work, gate)
    assert time.perf_counter() - started < 5
    assert threading.active_count() < 10


def test_gate_turns_follow_the_index_order_whatever_the_finishing_order():
    gate, order = InOrder(), []

    def work(state, index, item):
        time.sleep(0.002 * ((7 * index) % 5))     # workers reach the gate out of order
        with gate.turn(index):
            order.append(index)

    run_workers(range(30), 4, lambda: None, work, gate)
    assert order == list(range(30))


def test_kept_samples_are_the_first_ones_whatever_the_thread_count(tiny, one_pass):  # noqa: F811
    net, lists, preprocess = tiny
    blobs = list(one_pass)
    kept = []
    for threads in (1, 3):
        samples = BlobSamples(_bottoms(net, blobs), max_samples=5)
        stats = collect_histograms(net, lists, preprocess, one_pass, batch_size=1, threads=threads,
                                   progress=False, samples=samples)
        assert stats == one_pass
        kept.append(samples)
    for blob in kept[0].blobs:
        np.testing.assert_array_equal(kept[0][blob], kept[1][blob])


def _bottoms(net, names):
    by_name = {layer.name: layer for layer in net.graph}
    return [by_name[name].bottoms[0] for name in names]


def test_workers_share_the_threads_within_the_memory_budget(tiny, one_pass, monkeypatch):  # noqa: F811
    net, lists, preprocess = tiny
    from ncnnlike.quant import calibrate
    from ncnnlike.quant.images import iter_batches

    def plan(threads):
        runs, workers, intra = calibrate._plan(calibrate._RunShapes(net), iter_batches(lists, preprocess, 1), 1, threads)
        return sum(1 for _ in runs), workers, intra

    assert plan(3) == (20, 3, 1)                        # tiny samples: one worker per thread
    monkeypatch.setattr(calibrate, "WORKERS_BYTES", 1)  # samples bigger than the budget
    assert plan(3) == (20, 1, 3)                        # one worker with every thread, as before
    stats = collect_histograms(net, lists, preprocess, one_pass, batch_size=1, threads=3, progress=False)
    assert stats == one_pass
