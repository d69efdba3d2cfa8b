"""The Ray side of scale-out: the `workers=` / `ray_address=` options, the Ray session, the actor pool.

A Cluster says how many workers (Ray actors) to run and with how many threads each. `session()`
connects to the cluster at `ray_address=` or, without it, starts a local Ray on this machine for
the duration of the command (reusing one that this process already runs, as the tests do).
`pool()` starts the actors, each holding what it received once through the object store (model,
lists, preprocessing), and kills them at the end. An actor that dies is replaced by a new one and
its pending calls are sent again (dispatch.py, at most MAX_RETRIES times per call): a shard's
result is only ever the return value of one successful call, so nothing is counted twice.

Workers get the driver's BLAS thread count (OPENBLAS_NUM_THREADS) when this process starts or
connects to Ray: numpy's float64 dot products, which model-compare sums, depend on it in the last
bits, and the results must be the driver's. (A Ray started by someone else keeps its own setting.)
"""
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.limits import check_threads
from ncnnlike.io.numbers import ascii_int

RAY_HINT = "workers= needs Ray, an optional extra: pip install 'ncnnlike[ray]'"
MAX_RETRIES = 3                 # times a call is sent again after its worker died
LOCAL_OBJECT_STORE = 1 << 30    # bytes of shared memory for a Ray started here (models, shard results)
USAGE_TIMEOUT = 30             # seconds to collect the workers' memory and CPU use when a pool closes
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


def import_ray():
    """The ray module, or the one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise NcnnlikeError(RAY_HINT) from None
    return ray


def blas_threads():
    """The thread count numpy's OpenBLAS uses in this process: its environment variables in
    OpenBLAS's order of precedence, else the cores this process may run on."""
    for name in BLAS_VARIABLES:
        text = os.environ.get(name, "")
        if text.isascii() and text.isdigit() and int(text) > 0:
            return int(text)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass
class Cluster:
    """N Ray workers with `threads` threads each, on the cluster at `address` (None: a local Ray).
    `shard` fixes the images per shard (None: shards.plan_shards chooses); `fault` is a test hook
    (faults.Fault) that kills a worker once."""
    workers: int
    threads: int = 1
    address: str = None
    shard: int = None
    fault: object = None
    startup_seconds: float = field(default=0.0, compare=False)     # measured: ray.init of session()
    worker_usage: list = field(default_factory=list, compare=False)  # measured: (peak RSS, CPU s) per worker
    replacements: int = field(default=0, compare=False)             # measured: dead workers replaced

    @contextmanager
    def session(self):
        """Ray connected for the duration of the block; a Ray started here is stopped after it."""
        ray = import_ray()
        started = False
        if not ray.is_initialized():
            start = time.perf_counter()
            start_ray(self.address, self.workers * self.threads)
            self.startup_seconds = time.perf_counter() - start
            started = True
        try:
            self._check_resources(ray)
            yield self
        finally:
            if started:
                ray.shutdown()

    def _check_resources(self, ray):
        """Fail at once rather than wait forever for actors the cluster cannot place."""
        cpus = ray.cluster_resources().get("CPU", 0)
        if cpus < self.workers * self.threads:
            raise NcnnlikeError("workers=%d with thread=%d need %d CPUs, the Ray cluster has %g"
                                % (self.workers, self.threads, self.workers * self.threads, cpus))

    @contextmanager
    def pool(self, worker_class, *args):
        """A Pool of `workers` actors, each holding worker_class(*args); the arguments are put in
        the object store once and fetched by each actor (and by a replacement)."""
        ray = import_ray()
        pool = Pool(ray, self.threads, worker_class, [ray.put(a) for a in args])
        pool.actors = [pool.spawn() for _ in range(self.workers)]
        try:
            yield pool
            self.worker_usage = pool.usage()
        finally:
            pool.close()
            self.replacements = pool.replacements


class Pool:
    """Live actors; a dead one is replaced by a new actor built from the same stored arguments.
    Call a method of an actor's worker with actor.call.remote(name, *args)."""

    def __init__(self, ray, threads, worker_class, refs):
        self.ray, self.worker_class, self.refs = ray, worker_class, refs
        self.actor_class = ray.remote(_Actor).options(num_cpus=threads, max_restarts=0, max_task_retries=0)
        self.actors, self.replaced, self.replacements = [], {}, 0

    def spawn(self):
        # the references in a list: the actor fetches them itself (Ray would not let a restarted
        # actor rely on top-level references; we replace dead actors ourselves instead)
        return self.actor_class.remote(self.worker_class, list(self.refs))

    def replace(self, dead):
        """The actor that took over from `dead` (made on the first call for it)."""
        if dead not in self.replaced:
            self.replaced[dead] = self.spawn()
            self.replacements += 1
            self.actors = [self.replaced[dead] if a == dead else a for a in self.actors]
        return self.replaced[dead]

    def usage(self):
        """[(peak resident bytes, CPU seconds)] of the live workers, once their work is done; [] if
        they do not answer in USAGE_TIMEOUT seconds."""
        try:
            return self.ray.get([a.usage.remote() for a in self.actors], timeout=USAGE_TIMEOUT)
        except self.ray.exceptions.RayError:
            return []

    def close(self):
        """End every worker, finished or not."""
        for actor in self.actors:
            self.ray.kill(actor)


class _Actor:
    """The Ray actor around a worker object: builds it from arguments in the object store, then runs
    its methods by name (the worker classes themselves know nothing of Ray)."""

    def __init__(self, worker_class, refs):
        import ray
        self.worker = worker_class(*ray.get(refs))

    def call(self, method, *args):
        return getattr(self.worker, method)(*args)

    def usage(self):
        """This worker process's (peak resident memory in bytes, CPU seconds so far)."""
        import resource
        own = resource.getrusage(resource.RUSAGE_SELF)
        return own.ru_maxrss * 1024, own.ru_utime + own.ru_stime      # Linux: ru_maxrss in KiB


def start_ray(address=None, cpus=None):
    """ray.init, quiet: a local Ray with `cpus` CPUs, or a connection to the cluster at `address`.
    The workers get this process's BLAS thread count: a local Ray's processes inherit it from the
    environment at start, a cluster's through the job's runtime environment."""
    ray = import_ray()
    quiet = dict(logging_level=logging.ERROR, log_to_driver=False, include_dashboard=False)
    blas = {"OPENBLAS_NUM_THREADS": str(blas_threads())}
    saved = {name: os.environ.get(name) for name in blas}
    try:
        if address is None:
            os.environ.update(blas)
            ray.init(num_cpus=cpus, object_store_memory=LOCAL_OBJECT_STORE, **quiet)
        else:
            ray.init(address=address, runtime_env={"env_vars": blas}, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = "ray_address=%s" % address if address else "a local Ray"
        raise NcnnlikeError("cannot start or reach %s: %s" % (where, str(e).strip().splitlines()[0])) from None
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return ray


def cluster_option(options, thread_key="thread"):
    """The Cluster asked for by `workers=N [ray_address=host:port]` among CLI key=value options, or
    None without workers=. thread= is then per worker (default 1)."""
    if "workers" not in options:
        if "ray_address" in options:
            raise NcnnlikeError("ray_address= needs workers= as well (the number of Ray workers)")
        return None
    workers = _int(options["workers"], "workers")
    if workers < 1:
        raise NcnnlikeError("workers=%s: must be at least 1" % options["workers"])
    address = options.get("ray_address") or None
    threads = check_threads(_int(options[thread_key], thread_key)) if thread_key in options else 1
    import_ray()
    return Cluster(workers, threads, address)


def _int(text, key):
    try:
        return ascii_int(text)
    except ValueError:
        raise NcnnlikeError("%s=%s: expected an integer" % (key, text)) from None
