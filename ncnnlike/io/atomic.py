"""Safe file output: temp file in the target's folder, fsync, rename; never over an input or a non-file.

DESIGN principle 5: a failed or killed write never leaves a partial file, and never a .param from
one run beside a .bin from another. `atomic_files(a, b, ...)` writes every file to a temporary
file next to its target and fsyncs them all; only then is the pair committed:

  1. the old first target (the .param: the file a reader opens first) is removed,
  2. the other targets are renamed into place, then the first one, last,
  3. the folders are fsynced.

A kill at any point leaves either the old pair, or the new pair, or a lone file without its
.param, never a mismatched pair. Temporary files carry the writer's pid (.<name>.<pid>.<random>.tmp):
they are removed on every exit Python sees (errors, Ctrl-C, SIGTERM via the CLI), and the next write
to the same target removes those of writers that no longer run (SIGKILL).

`check_outputs(outputs, inputs)` refuses, before any work is done, an output that names an input
or another output (also through a hard or symbolic link), or that exists and is not a regular file:
a rename would replace a symlink, a FIFO or /dev/null itself with a regular file.
"""
import contextlib
import errno
import os
import stat

from ncnnlike.errors import NcnnlikeError

TEMP_SUFFIX = ".tmp"
_TEMP_ATTEMPTS = 100          # exclusive creations tried (tempfile.mkstemp's count; its import costs 5 ms)
_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _reason(e):
    return e.strerror or str(e)


def _kind(mode):
    """What a non-regular file is, or None for a regular file."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def check_target(path):
    """`path` may be written: its folder exists and it is absent or a regular file (not a link)."""
    if not isinstance(path, str) or not path:
        raise NcnnlikeError("output path %r: expected a file name" % (path,))
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise NcnnlikeError("%s: cannot write: folder %s does not exist" % (path, folder))
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as e:
        raise NcnnlikeError("%s: cannot write: %s" % (path, _reason(e))) from None
    kind = _kind(mode)
    if kind:
        raise NcnnlikeError("%s: is %s, not a regular file: refusing to replace it (write to a new file name)"
                            % (path, kind))


_HEAD = 4096


def _looks_like_param(head):
    return head.split(None, 1)[:1] == [b"7767517"]


def _looks_like_table(head):
    """The first line that is not blank or a comment is `name scale [scale ...]` (spec 5)."""
    for line in head.splitlines()[:-1] or head.splitlines():
        tokens = line.split()
        if not tokens or tokens[0].startswith(b"#"):
            continue
        try:
            return len(tokens) >= 2 and all(float(t) >= 0 for t in tokens[1:])
        except ValueError:
            return False
    return True


def _looks_like_bin(head):
    """Weights hold zero bytes (tags, exponents, small ints); a text file (param, table, list) never does."""
    return b"\0" in head


_LOOKS_LIKE = {"param": ("an ncnn .param file", _looks_like_param),
               "table": ("a quantization table", _looks_like_table),
               "bin": ("an ncnn .bin file", _looks_like_bin),
               "json": ("a JSON file", lambda head: head.lstrip()[:1] in (b"{", b"[")),
               "png": ("a PNG image", lambda head: head.startswith(b"\x89PNG"))}


def check_replaces(path, kind):
    """An existing non-empty `path` is replaced only by a file of its own `kind` (_LOOKS_LIKE): a missing or swapped argument (`model2table m.param m.bin list.txt`, a
    table given as model2int8's out.param) must not destroy a list file, an image or a table."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD)
    except (OSError, ValueError):   # absent, or check_target's to report
        return
    what, looks_like = _LOOKS_LIKE[kind]
    if head.strip() and not looks_like(head):
        raise NcnnlikeError("%s: exists and is not %s: refusing to replace it (check the order of the file "
                            "arguments, or remove it first)" % (path, what))


def _identity(path):
    """(real folder + name, (device, inode) or None): two paths with equal parts are one file."""
    try:
        real = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(path))), os.path.basename(path))
        real = os.path.realpath(real)
    except (OSError, ValueError):   # a NUL byte: no such file can exist, compare the text
        return path, None
    try:
        st = os.stat(path)
        return real, (st.st_dev, st.st_ino)
    except (OSError, ValueError):
        return real, None


def _same(a, b):
    return a[0] == b[0] or (a[1] is not None and a[1] == b[1])


def check_source(path):
    """An existing input is a regular file (through links): reading a FIFO or a terminal would wait
    for a writer forever, a device would never end. A missing one is its reader's to report."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError, TypeError):
        return
    if not stat.S_ISREG(mode):
        raise NcnnlikeError("input %s is %s, not a regular file" % (path, _kind(mode) or "not a regular file"))


def check_outputs(outputs, inputs=()):
    """Refuse outputs that are inputs, repeat each other, or exist as anything but a regular file, and
    inputs that are not regular files."""
    outputs = [p for p in outputs if p is not None]
    seen = []
    for path in outputs:
        check_target(path)
        ident = _identity(path)
        for other, other_ident in seen:
            if _same(ident, other_ident):
                raise NcnnlikeError("output %s and output %s are the same file: give two different names"
                                    % (other, path))
        seen.append((path, ident))
    for source in inputs:
        if source is None:
            continue
        check_source(source)
        source_ident = _identity(source)
        for path, ident in seen:
            if _same(ident, source_ident):
                raise NcnnlikeError("output %s is the input %s: refusing to overwrite an input" % (path, source))


def _umask():
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_prefix(path):
    return "." + os.path.basename(path) + "."


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale_temps(path):
    """Delete temp files of `path` left by writers that were killed (their pid no longer runs)."""
    folder = os.path.dirname(os.path.abspath(path))
    prefix = _temp_prefix(path)
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            if not (name.startswith(prefix) and name.endswith(TEMP_SUFFIX)):
                continue
            pid = name[len(prefix):].split(".", 1)[0]
            if pid.isascii() and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                _remove(os.path.join(folder, name))


def _temp_path(path):
    """Create an empty temporary file next to `path`, with the mode a plain open() would give."""
    check_target(path)
    remove_stale_temps(path)
    folder = os.path.dirname(os.path.abspath(path))
    prefix = os.path.join(folder, "%s%d." % (_temp_prefix(path), os.getpid()))
    for _ in range(_TEMP_ATTEMPTS):
        tmp = prefix + os.urandom(6).hex() + TEMP_SUFFIX
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        except FileExistsError:
            continue
        except OSError as e:
            raise NcnnlikeError("%s: cannot write: %s" % (path, _reason(e))) from None
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())
        return tmp
    raise NcnnlikeError("%s: cannot write: no free temporary name next to it" % path)


def _remove(path):
    with contextlib.suppress(OSError):
        os.remove(path)


def _fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder):
    """Make the renames durable; some file systems cannot fsync a folder, which is fine."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_files(*paths):
    """Yield one temporary path per target; on success commit them as a pair (module docstring),
    else delete them all. The first path is the commit point: it appears last."""
    temps = []
    try:
        for path in paths:
            temps.append(_temp_path(path))
        yield list(temps)
        for tmp in temps:
            _fsync_file(tmp)
        _commit(list(paths), temps)
    except OSError as e:
        raise NcnnlikeError("%s: cannot write: %s" % (e.filename or paths[0], _reason(e))) from None
    finally:
        for tmp in temps:
            _remove(tmp)


def _commit(paths, temps):
    """Remove the old first target, rename the others into place, then the first one."""
    for path in paths:
        check_target(path)
    try:
        os.remove(paths[0])
    except FileNotFoundError:
        pass
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise
    for path, tmp in list(zip(paths, temps))[1:] + [(paths[0], temps[0])]:
        os.replace(tmp, path)
    for folder in {os.path.dirname(os.path.abspath(p)) for p in paths}:
        _fsync_folder(folder)


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """open() for writing that replaces `path` only when the `with` block succeeds."""
    with atomic_files(path) as (tmp,):
        with open(tmp, mode, **kwargs) as f:
            yield f
