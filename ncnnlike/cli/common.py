"""What every console script shares: turning NcnnlikeError into one line + exit 2, key=value args."""
import sys
import warnings

from ncnnlike.errors import NcnnlikeError, NcnnlikeWarning

EXIT_BAD_INPUT = 2


def run_main(fn, argv=None):
    """Call fn(argv); a NcnnlikeError becomes one line on stderr and exit status 2, no traceback."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", NcnnlikeWarning)
            warnings.showwarning = _show_warning
            code = fn(argv)
    except NcnnlikeError as exc:
        sys.stderr.write("error: %s\n" % exc)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    return code or 0


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Our warnings as one `warning: ...` line on stderr; others in Python's format."""
    if issubclass(category, NcnnlikeWarning):
        sys.stderr.write("warning: %s\n" % message)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def split_args(argv, usage):
    """ncnn style: positional arguments first, then key=value options -> (positionals, {key: value})."""
    positionals, options = [], {}
    for arg in argv:
        if "=" in arg:
            key, _, value = arg.partition("=")
            if key in options:
                raise NcnnlikeError("option '%s' given twice" % key)
            options[key] = value
        elif options:
            raise NcnnlikeError("positional argument '%s' after key=value options\n%s" % (arg, usage))
        else:
            positionals.append(arg)
    return positionals, options


def check_keys(options, allowed):
    """Unknown keys are an error (ncnn ignores them silently; we do not)."""
    for key in options:
        if key not in allowed:
            raise NcnnlikeError("unknown option '%s=' (expected one of: %s)" % (key, ", ".join(allowed)))
