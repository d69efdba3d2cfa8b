"""Score an fp32 model and its int8 model over an image list on Ray workers (classifiers).

Each worker runs both models on its shards and sends, per image, what the scores need: the top-k
classes of each model (argsort, as tools/common.topk_hits), their argmax, and the cosine of the
int8 output to the fp32 one; that is a few dozen bytes per image, so a driver can gather millions.
score_list() gives the same per-image results in one process (workers=None), for comparison.
The inputs come from `preprocess` objects as quant.images.iter_batches reads them (`name`,
`load(path, where)`): model2table's preprocessing, or an evaluation script's own.
"""
from dataclasses import dataclass

import numpy as np

from ncnnlike.quant.images import iter_batches
from ncnnlike.scale.dispatch import Job, run_in_order
from ncnnlike.scale.faults import strike
from ncnnlike.scale.shards import plan_shards, portable_lists, shard_lists

TOPK = 5


@dataclass
class Scores:
    """Per image, in list order: top-k classes and argmax of each model, int8-vs-fp32 cosine."""
    fp_top: np.ndarray
    int8_top: np.ndarray
    fp_argmax: np.ndarray
    int8_argmax: np.ndarray
    cosine: np.ndarray

    @staticmethod
    def concatenate(parts):
        return Scores(*(np.concatenate([getattr(p, f) for p in parts]) for f in Scores.__dataclass_fields__))

    def summary(self, labels=None):
        """top-1 / top-5 of both models (with labels), top-1 agreement, mean and min cosine."""
        result = {"images": len(self.cosine), "agree": float(np.mean(self.fp_argmax == self.int8_argmax)),
                  "cos_mean": float(self.cosine.mean()), "cos_min": float(self.cosine.min())}
        if labels is not None:
            labels = np.asarray(labels)[:, None]
            for name, top in (("fp32", self.fp_top), ("int8", self.int8_top)):
                result[name + "_top1"] = float(np.mean((top[:, :1] == labels).any(axis=1)))
                result[name + "_top5"] = float(np.mean((top[:, :TOPK] == labels).any(axis=1)))
        return result


def batch_scores(fp_logits, int8_logits):
    """Scores of one batch of (N, ...) outputs, flattened per image."""
    a = np.asarray(fp_logits, np.float64).reshape(len(fp_logits), -1)
    b = np.asarray(int8_logits, np.float64).reshape(len(int8_logits), -1)
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)
    return Scores(np.argsort(-a, axis=1)[:, :TOPK], np.argsort(-b, axis=1)[:, :TOPK], a.argmax(1), b.argmax(1),
                  (a * b).sum(1) / norms)


class ScoreWorker:
    """One worker's state (a Ray actor): both models, the lists and the preprocessing."""

    def __init__(self, fp_graph, int8_graph, lists, preprocess, batch_size, threads, int8=True, fault=None):
        from ncnnlike.runtime import Net
        self.nets = []
        for graph, mode in ((fp_graph, False), (int8_graph, int8)):
            net = Net.from_graph(graph)
            net.opt.num_threads, net.opt.use_int8_inference = threads, mode
            self.nets.append(net)
        self.output = fp_graph.output_names()[0]
        self.lists, self.preprocess, self.batch_size, self.threads, self.fault = \
            lists, preprocess, batch_size, threads, fault

    def score(self, shard):
        parts = []
        for batch in iter_batches(shard_lists(self.lists, shard), self.preprocess, self.batch_size, self.threads):
            fp, int8 = (net.run(batch, [self.output])[self.output] for net in self.nets)
            parts.append(batch_scores(fp, int8))
        strike(self.fault, "score", shard)
        return Scores.concatenate(parts)


def score_list(fp_graph, int8_graph, lists, preprocess, batch_size=8, threads=1, int8=True, cluster=None,
               progress=True):
    """Scores over the whole list: on `cluster`'s workers, or here without one."""
    if cluster is None:
        worker = ScoreWorker(fp_graph, int8_graph, lists, preprocess, batch_size, threads, int8)
        return worker.score(plan_shards(len(lists[0]), 1, len(lists[0]))[0])
    parts = []
    shards = plan_shards(len(lists[0]), cluster.workers, batch_size, cluster.shard)
    lists = portable_lists(lists)
    with cluster.session(), \
            cluster.pool(ScoreWorker, fp_graph, int8_graph, lists, preprocess, batch_size, cluster.threads, int8,
                         cluster.fault) as pool:
        jobs = [Job(lambda actor, s=s: actor.call.remote("score", s), s.size, "lines %d-%d" % (s.start + 1, s.stop))
                for s in shards]
        run_in_order(pool, jobs, parts.append, "score", progress)
    return Scores.concatenate(parts)
