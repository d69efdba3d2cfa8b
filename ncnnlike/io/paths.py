"""Path arguments of the Python API: a str or os.PathLike, never an int (open(3) would read fd 3)."""
import os

from ncnnlike.errors import NcnnlikeTypeError


def input_path(path, what="file"):
    """`path` as a str, or NcnnlikeTypeError: an int is a file descriptor to open(), not a file name."""
    if isinstance(path, bool) or not isinstance(path, (str, bytes, os.PathLike)):
        raise NcnnlikeTypeError("%s path must be a str or os.PathLike, got %s %r"
                                % (what, type(path).__name__, path))
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path or "\0" in path:
        raise NcnnlikeTypeError("%s path %r is empty or holds a NUL character" % (what, path))
    return path
