"""Fault injection for the tests: kill a worker process once, in the middle of a given shard.

The worker computes the shard's result and then dies before returning it, the case where a design
that accumulated results inside the workers would count the shard twice after the retry. The
marker file makes it happen once: the retried call finds it and goes on. The marker must be on a
file system the worker sees (the tests run a local Ray).
"""
import os
from dataclasses import dataclass

EXIT_STATUS = 3


@dataclass(frozen=True)
class Fault:
    """Kill the worker that finishes shard `shard` of job `job` ("absmax", "histograms", "compare",
    "trial", "score"), the first time only."""
    job: str
    shard: int
    marker: str

    def strike(self, job, shard):
        """Exit this process at once (no cleanup, like a crash) if this is the planned moment."""
        if job != self.job or shard != self.shard:
            return
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
        os._exit(EXIT_STATUS)


def strike(fault, job, shard):
    """fault.strike(job, shard) when a fault is planned."""
    if fault is not None:
        fault.strike(job, shard.index if hasattr(shard, "index") else shard)
