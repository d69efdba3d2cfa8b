"""Scoring fp32 vs int8 over a list on 2 local Ray workers: the same per-image results as here."""
import os

import numpy as np

from helpers import REFERENCE
from ncnnlike.io.model import load_model
from ncnnlike.quant.images import parse_preprocess, read_lists
from ncnnlike.scale.cluster import Cluster
from ncnnlike.scale.evaluate import score_list

TINY = os.path.join(REFERENCE, "tiny")
OPTS = {"mean": "[104,117,123]", "norm": "[0.017,0.017,0.017]", "shape": "[32,32,3]", "pixel": "BGR"}


def test_scores_from_two_workers_equal_one_process_per_image(ray_local):
    fp = load_model(os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"))
    int8 = load_model(os.path.join(TINY, "tiny-int8.param"), os.path.join(TINY, "tiny-int8.bin"))
    lists = read_lists([os.path.join(TINY, "calib20-png.txt")])
    preprocess = parse_preprocess(OPTS, fp.input_names())
    here = score_list(fp, int8, lists, preprocess, batch_size=4)
    there = score_list(fp, int8, lists, preprocess, batch_size=4, cluster=Cluster(2, shard=4), progress=False)
    for name in ("fp_top", "int8_top", "fp_argmax", "int8_argmax", "cosine"):
        assert np.array_equal(getattr(here, name), getattr(there, name)), name
    summary = there.summary(labels=here.fp_argmax)
    assert summary["images"] == 20 and summary["fp32_top1"] == 1.0 and 0.5 < summary["cos_mean"] <= 1
