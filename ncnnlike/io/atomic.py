"""Atomic file output: write to a temporary file in the target's folder, then rename over it.

DESIGN principle 5: a failed write never leaves a partial or stale-looking output file.
`atomic_files` commits several files together (a .param and its .bin): if anything fails,
none of them is left.
"""
import contextlib
import os
import tempfile

from ncnnlike.errors import NcnnlikeError


def _umask():
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_path(path):
    """Create an empty temporary file next to `path`, with the mode a plain open() would give."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    except OSError as e:
        raise NcnnlikeError("%s: cannot write: %s" % (path, e.strerror or e)) from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    return tmp


def _remove(path):
    with contextlib.suppress(OSError):
        os.remove(path)


@contextlib.contextmanager
def atomic_files(*paths):
    """Yield one temporary path per target; on success rename each onto its target, else delete all.

    If a later rename fails, targets already renamed are removed too, so that no half pair is left.
    """
    temps = []
    try:
        for path in paths:
            temps.append(_temp_path(path))
        yield list(temps)
    except OSError as e:
        for tmp in temps:
            _remove(tmp)
        raise NcnnlikeError("%s: cannot write: %s" % (e.filename or paths[0], e.strerror or e)) from None
    except BaseException:
        for tmp in temps:
            _remove(tmp)
        raise
    _commit(list(paths), temps)


def _commit(paths, temps):
    """Rename temps onto their targets in order; undo everything on the first failure."""
    done = []
    for path, tmp in zip(paths, temps):
        try:
            os.replace(tmp, path)
        except OSError as e:
            for p in done:
                _remove(p)
            for t in temps[len(done):]:
                _remove(t)
            raise NcnnlikeError("%s: cannot write: %s" % (path, e.strerror or e)) from None
        done.append(path)


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """open() for writing that replaces `path` only when the `with` block succeeds."""
    with atomic_files(path) as (tmp,):
        with open(tmp, mode, **kwargs) as f:
            yield f
