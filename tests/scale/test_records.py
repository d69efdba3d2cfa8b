"""Per-batch terms replayed in list order give exactly the sums one process accumulates."""
from dataclasses import fields

import numpy as np

from ncnnlike.quant.compare import ErrorStats, OutputStats
from ncnnlike.scale.records import (ERROR_RULES, OUTPUT_RULES, BatchRecord, add_error, error_terms, output_terms,
                                    replay_outputs)


def batches(seed=0, count=6):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        ref = rng.standard_normal((5 + k % 3, 1000)).astype(np.float32) * (1 + k)
        out.append((ref, ref + rng.standard_normal(ref.shape).astype(np.float32) * 0.05))
    return out


def test_replayed_error_terms_equal_streaming_updates_bit_for_bit():
    streamed, replayed = ErrorStats(), ErrorStats()
    for ref, test in batches():
        streamed.update(ref, test)
        add_error(replayed, error_terms(ref, test))
    assert streamed == replayed


def test_replayed_output_terms_equal_streaming_updates_bit_for_bit():
    streamed = OutputStats()
    records = []
    for ref, test in batches(1):
        streamed.update(ref, test)
        records.append(BatchRecord({"out0": output_terms(ref, test)}))
    assert replay_outputs(records, ["out0"])["out0"] == streamed


def test_replay_of_sequence_outputs_equals_streaming_updates():
    """(T, C) outputs (CTC heads): per-step and decoded agreement counts replay too."""
    rng = np.random.default_rng(3)
    streamed, records = OutputStats(), []
    for k in range(4):
        ref = rng.standard_normal((3, 1, 12, 7)).astype(np.float32)
        test = ref + rng.standard_normal(ref.shape).astype(np.float32) * 0.3
        streamed.update(ref, test)
        records.append(BatchRecord({"out0": output_terms(ref, test)}))
    assert replay_outputs(records, ["out0"])["out0"] == streamed


def test_every_field_of_the_error_and_output_statistics_has_a_replay_rule():
    """A field added to quant/compare.py's statistics must get its rule in scale/records.py."""
    assert {f.name for f in fields(ErrorStats)} == set(ERROR_RULES)
    assert {f.name for f in fields(OutputStats)} == set(OUTPUT_RULES)
