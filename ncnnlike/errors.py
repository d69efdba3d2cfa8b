"""The one exception type: its message is the single line a user sees (the CLI exits with status 2)."""


class NcnnlikeError(Exception):
    """A user-facing error: bad file, bad argument, unsupported construct."""


class NcnnlikeWarning(UserWarning):
    """Something ncnn accepts silently that the user should know (the CLI prints `warning: ...`)."""
