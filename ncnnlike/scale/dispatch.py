"""Run shard jobs on a pool of Ray actors and fold their results on the driver in shard order.

Jobs are handed out as workers free up (PER_WORKER calls in flight each, so a worker never waits
for the driver), and a result is folded as soon as every earlier one has been: the driver holds
only the results that arrived ahead of their turn. When a worker dies, it is replaced
(cluster.Pool) and its calls are sent again to the replacement, at most MAX_RETRIES times each:
only the result of the call that returned is folded, so no shard counts twice.
"""
from collections import deque
from dataclasses import dataclass

from tqdm import tqdm

from ncnnlike.errors import NcnnlikeError
from ncnnlike.scale.cluster import MAX_RETRIES, import_ray

PER_WORKER = 2


@dataclass
class Job:
    """One call: `call(actor)` returns its ObjectRef; `size` samples (for progress); `where` names it."""
    call: object
    size: int
    where: str


class _WorkerDied(Exception):
    pass


def run_in_order(pool, jobs, fold, label=None, progress=True):
    """Run `jobs` on the actors of `pool`; fold(result) for each job's result, in job order."""
    ray = import_ray()
    queue = deque((index, job, 0) for index, job in enumerate(jobs))
    slots = deque(a for a in pool.actors for _ in range(PER_WORKER))
    pending, arrived, turn = {}, {}, 0
    with tqdm(total=sum(job.size for job in jobs), desc=label, unit="img", disable=not progress or not label,
              leave=False) as bar:
        while queue or pending:
            while queue and slots:
                index, job, tries = queue.popleft()
                actor = slots.popleft()
                pending[job.call(actor)] = (index, job, tries, actor)
            ready, _ = ray.wait(list(pending), num_returns=1)
            index, job, tries, actor = pending.pop(ready[0])
            try:
                arrived[index] = fetch(ray, ready[0], job.where)
            except _WorkerDied as e:
                if tries >= MAX_RETRIES:
                    raise NcnnlikeError("a Ray worker died %d times on %s (%s)" % (tries + 1, job.where, e)) from None
                queue.appendleft((index, job, tries + 1))
                slots.append(pool.replace(actor))
                continue
            slots.append(actor)
            bar.update(job.size)
            while turn in arrived:
                fold(arrived.pop(turn))
                turn += 1


def fetch(ray, ref, where):
    """ray.get(ref): a worker's NcnnlikeError raised again as itself, a dead worker as _WorkerDied."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, NcnnlikeError):
            raise NcnnlikeError(str(cause)) from None
        if isinstance(cause, Exception):
            raise cause from None
        raise
    except ray.exceptions.RayActorError as e:
        raise _WorkerDied(_first_line(e)) from None
    except ray.exceptions.RayError as e:
        raise NcnnlikeError("Ray failed on %s: %s" % (where, _first_line(e))) from None


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
