"""ncnnlike: fast, accurate int8 models in the ncnn file format, with ncnn's own command-line flow."""
from ncnnlike.errors import NcnnlikeError

__version__ = "0.1.0"


def __getattr__(name):
    """Lazy access to the runtime so that importing the package stays cheap."""
    if name in ("Net", "Extractor", "Option"):
        from ncnnlike import runtime
        return getattr(runtime, name)
    raise AttributeError(name)
