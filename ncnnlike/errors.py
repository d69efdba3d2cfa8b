"""The one exception type: its message is the single line a user sees (the CLI exits with status 2).

A message is made printable when the error is built (control characters, ESC sequences and bytes
that are not UTF-8 are escaped), so the line is the same in the CLI and in the Python API and can
never move the terminal's cursor or fail to encode. The API raises subclasses that are also the
builtin exception a Python caller would catch (KeyError, ValueError, TypeError, RuntimeError).
"""


def printable(text):
    """`text` on one line with every non-printable character escaped: \\n, \\r, \\t, \\x1b, \\udcff
    (a byte that was not UTF-8, kept by surrogateescape) ... UTF-8 letters stay as they are."""
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii")
                       if ord(ch) < 0xD800 or ord(ch) > 0xDFFF else "\\u%04x" % ord(ch))
    return "".join(out)


class NcnnlikeError(Exception):
    """A user-facing error: bad file, bad argument, unsupported construct."""

    def __init__(self, message="", *args):
        super().__init__(printable(message), *args)

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class NcnnlikeUsageError(NcnnlikeError, RuntimeError):
    """An API call out of order (an input before a model is loaded)."""


class NcnnlikeKeyError(NcnnlikeError, KeyError):
    """An unknown blob or layer name (a KeyError whose str() is the plain message)."""


class NcnnlikeValueError(NcnnlikeError, ValueError):
    """A bad argument value (an option that is not one of its choices)."""


class NcnnlikeTypeError(NcnnlikeError, TypeError):
    """An argument of the wrong type (a path that is not a string)."""


class NcnnlikeLimitError(NcnnlikeError):
    """Input that would need more memory or threads than a named limit allows (io/limits.py)."""


class NcnnlikeWarning(UserWarning):
    """Something ncnn accepts silently that the user should know (the CLI prints `warning: ...`)."""
