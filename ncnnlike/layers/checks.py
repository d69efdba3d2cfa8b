"""Layer param validation: what ncnn's per-layer load_param / load_model refuse, and what its forward
needs in order not to crash, checked when a .param is read and again before one is written.

A layer module may declare (both optional):
  BLOBS = (bottoms, tops)   the blob counts ncnn's forward needs: an int, or (low, high) with
                            high None for "any number"; ncnn's one_blob_only layers are (1, 1)
  check_params(p)           raise Invalid("...") when a param is out of what ncnn accepts; `p` is the
                            resolved params (base.resolve) plus p.bottom_count and p.top_count

`check_layer(layer, where)` runs both, then the rules every layer shares: each .bin buffer holds at
least one value (ncnn's ModelBin returns an empty Mat for 0 and load_model fails with -100). The
helpers below are the vocabulary of the modules' check_params functions; each names the param, its value
and what ncnn needs, so the reader's error says which token to fix.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import layer_module, resolve, weight_specs

ACTIVATION_PARAMS = {0: 0, 1: 0, 2: 1, 3: 2, 4: 0, 5: 0, 6: 2}   # fused_activation.h: how many it reads
SAME_PADS = (-233, -234)                                          # SAME_UPPER, SAME_LOWER (conv, pooling)
MAX_KERNEL = 1 << 16      # no kernel, stride, dilation or pad of ncnn's models comes near: an int32 product
MAX_PAD = 1 << 16         # of several such values overflows in ncnn's size arithmetic


class Invalid(ValueError):
    """A param value ncnn refuses (or would crash on); the message names param, value and rule."""


def check_layer(layer, where=""):
    """Validate one layer (module docstring); an NcnnlikeError naming where, the layer and the param."""
    module = layer_module(layer.type, where)
    label = "%slayer %s (%s)" % (where + ": " if where else "", layer.name, layer.type)
    try:
        p = resolve(layer)
        p.bottom_count, p.top_count = len(layer.bottoms), len(layer.tops)
        blobs = getattr(module, "BLOBS", None)
        if blobs is not None:
            blob_count(p, *blobs)
        check = getattr(module, "check_params", None)
        if check is not None:
            check(p)
        for spec in weight_specs(layer):
            if spec.count < 1:
                raise Invalid("weight %s would hold %d values: ncnn's load_model fails on an empty buffer; "
                              "check the sizes in the params" % (spec.name, spec.count))
    except Invalid as exc:
        raise NcnnlikeError("%s: %s" % (label, exc)) from None
    except (ArithmeticError, TypeError, ValueError, IndexError, KeyError) as exc:
        raise NcnnlikeError("%s: params ncnn cannot use (%s: %s)" % (label, type(exc).__name__, exc)) from None


def _range_text(low, high):
    if high == low:
        return "%d" % low
    return "at least %d" % low if high is None else "%d to %d" % (low, high)


def _count_ok(n, want):
    low, high = (want, want) if isinstance(want, int) else want
    return n >= low and (high is None or n <= high), _range_text(low, high)


def blob_count(p, bottoms, tops):
    """The layer has `bottoms` bottoms and `tops` tops (each an int or a (low, high) range)."""
    for what, n, want in (("bottom", p.bottom_count, bottoms), ("top", p.top_count, tops)):
        ok, text = _count_ok(n, want)
        if not ok:
            raise Invalid("has %d %s blob%s, ncnn's forward needs %s" % (n, what, "" if n == 1 else "s", text))


def at_least(p, low, *names):
    """Each named param is >= low."""
    for name in names:
        value = getattr(p, name)
        if value < low:
            raise Invalid("%s=%s: must be at least %s" % (name, value, low))


def at_most(p, high, *names):
    """Each named param is <= high."""
    for name in names:
        value = getattr(p, name)
        if value > high:
            raise Invalid("%s=%s: must be at most %s" % (name, value, high))


def between(p, low, high, *names):
    """Each named param is in [low, high]."""
    at_least(p, low, *names)
    at_most(p, high, *names)


def one_of(p, name, choices, meaning=""):
    """Param `name` is one of `choices` (a short `meaning` says what they select)."""
    value = getattr(p, name)
    if value not in choices:
        note = " (%s)" % meaning if meaning else ""
        raise Invalid("%s=%s: expected one of %s%s" % (name, value, ", ".join(map(str, choices)), note))


def flag(p, *names):
    """Each named param is 0 or 1."""
    for name in names:
        one_of(p, name, (0, 1))


def finite(p, *names):
    """Each named float param is finite (the writer would turn inf into +-3.4e38 silently)."""
    for name in names:
        value = getattr(p, name)
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, float) and not abs(v) <= 3.4028234663852886e38:
                raise Invalid("%s=%s: must be a finite number" % (name, value))


def positive(p, *names):
    """Each named param is >= 1 (sizes, kernels, strides, dilations, counts)."""
    at_least(p, 1, *names)


def geometry(p, kernels=(), strides=(), dilations=(), pads=(), same_pads=True):
    """Conv / pooling geometry: kernel, stride and dilation 1..MAX_KERNEL, the kernel's size within
    32 bits; pads 0..MAX_PAD, or -233 / -234 (SAME) when `same_pads`."""
    for name in tuple(kernels) + tuple(strides) + tuple(dilations):
        between(p, 1, MAX_KERNEL, name)
    area = 1
    for name in kernels:
        area *= getattr(p, name)
    if area >= 1 << 31:   # ncnn's maxk is an int: pip ncnn's load_param refuses 46341 x 46341
        raise Invalid("%s = %d: the kernel size must fit a 32-bit int"
                      % (" x ".join("%s=%d" % (k, getattr(p, k)) for k in kernels), area))
    for name in pads:
        value = getattr(p, name)
        if not (0 <= value <= MAX_PAD or (same_pads and value in SAME_PADS)):
            raise Invalid("%s=%d: a pad must be 0 to %d%s" % (name, value, MAX_PAD,
                                                              ", or -233 / -234 (SAME)" if same_pads else ""))


def activation(p, type_name="activation_type", params_name="activation_params"):
    """A fused activation ncnn knows (0..6) with the activation_params it reads for it."""
    kind = getattr(p, type_name)
    if kind not in ACTIVATION_PARAMS:
        raise Invalid("%s=%s: expected 0 to 6 (none, ReLU, LeakyReLU, Clip, Sigmoid, Mish, HardSwish)"
                      % (type_name, kind))
    values = list(getattr(p, params_name) or [])
    if len(values) < ACTIVATION_PARAMS[kind]:
        raise Invalid("%s=%d needs %d %s, got %d" % (type_name, kind, ACTIVATION_PARAMS[kind], params_name,
                                                     len(values)))
    finite(p, params_name)


def multiple(p, name, of, what):
    """Param `name` is a positive multiple of `of` (`what` says what `of` is)."""
    value = getattr(p, name)
    if of < 1 or value < 1 or value % of:
        raise Invalid("%s=%d: must be a positive multiple of %s = %d" % (name, value, what, of))


def length(p, name, low, high=None):
    """Array param `name` has low..high elements."""
    n = len(getattr(p, name) or [])
    ok, text = _count_ok(n, (low, high))
    if not ok:
        raise Invalid("%s has %d elements, expected %s" % (name, n, text))


def axes(p, name, low=-4, high=3, unique=True):
    """Array param `name` holds axes in low..high, each at most once."""
    values = list(getattr(p, name) or [])
    for v in values:
        if not low <= v <= high:
            raise Invalid("%s=%s: axis %d is outside %d..%d" % (name, values, v, low, high))
    if unique and len(set(values)) != len(values):
        raise Invalid("%s=%s: an axis is given twice" % (name, values))


def int8_term(p, name="int8_scale_term", choices=(0, 1, 2, 100, 101, 102)):
    """int8_scale_term is one ncnn knows (0 float; 1/2 int8; +100: requantized output)."""
    one_of(p, name, choices)


PAD_NAMES = ("pad_left", "pad_right", "pad_top", "pad_bottom", "pad_front", "pad_behind")


def _present(p, names):
    return [name for name in names if hasattr(p, name)]


def pads(p, names=PAD_NAMES, same_pads=True, any_same=False):
    """Pads 0..MAX_PAD; or, when `same_pads`, all of them -233 (SAME_UPPER) or all -234 (SAME_LOWER):
    a convolution pads with copy_make_border when any pad is positive, which a negative one would
    crash. A deconvolution (`any_same`) takes SAME when any pad says so and ignores the others."""
    names = _present(p, names)
    values = [getattr(p, name) for name in names]
    if any_same:
        geometry(p, pads=names, same_pads=True)
        return
    if same_pads and values and values[0] in SAME_PADS and all(v == values[0] for v in values):
        return
    geometry(p, pads=names, same_pads=False)


def conv_family(p, depthwise=False, deconv=False):
    """Convolution / Deconvolution in 1, 2 or 3 dims (and their DepthWise types): num_output >= 1,
    geometry, pads, fused activation, group, and a weight_data_size that splits into num_output x
    kernel (ncnn's create_pipeline divides it by num_output and by the kernel size)."""
    positive(p, "num_output")
    kernels = _present(p, ("kernel_w", "kernel_h", "kernel_d"))
    geometry(p, kernels, _present(p, ("stride_w", "stride_h", "stride_d")),
             _present(p, ("dilation_w", "dilation_h", "dilation_d")))
    pads(p, any_same=deconv)
    activation(p)
    finite(p, *_present(p, ("pad_value",)))
    for name in _present(p, ("output_pad_right", "output_pad_bottom", "output_pad_behind",
                             "output_w", "output_h", "output_d")):
        between(p, 0, MAX_PAD, name)
    group = getattr(p, "group", 1)
    if depthwise:
        positive(p, "group")
        if p.num_output % group:
            raise Invalid("num_output=%d: must be a multiple of group=%d (ncnn's load_param refuses it)"
                          % (p.num_output, group))
    if getattr(p, "dynamic_weight", 0):
        flag(p, "dynamic_weight")
        blob_count(p, (2, 3), 1)
        return
    blob_count(p, 1, 1)
    kernel = 1
    for name in kernels:
        kernel *= getattr(p, name)
    per_output = p.num_output // group if depthwise and deconv else p.num_output
    multiple(p, "weight_data_size", per_output * kernel, "%s x kernel %s" % (
        "num_output / group" if depthwise and deconv else "num_output", "x".join(str(getattr(p, k)) for k in kernels)))


def pooling_family(p):
    """Pooling in 1, 2 or 3 dims: max or avg; kernel and stride unless global or adaptive; pad_mode
    0..3; pads 0..MAX_PAD; adaptive out sizes >= 1 or -233 (the input's size)."""
    one_of(p, "pooling_type", (0, 1), "0 max, 1 avg")
    flag(p, "global_pooling", "adaptive_pooling", "avgpool_count_include_pad")
    one_of(p, "pad_mode", (0, 1, 2, 3), "0 full, 1 valid, 2 SAME_UPPER, 3 SAME_LOWER")
    if p.global_pooling:
        return
    if p.adaptive_pooling:
        for name in _present(p, ("out_w", "out_h", "out_d")):
            if getattr(p, name) != -233:
                between(p, 1, MAX_KERNEL, name)
        return
    geometry(p, _present(p, ("kernel_w", "kernel_h", "kernel_d")), _present(p, ("stride_w", "stride_h", "stride_d")))
    pads(p, same_pads=False)


def recurrent_family(p, gates, max_blobs):
    """LSTM (4 gates), GRU (3), RNN (1): num_output >= 1, direction 0..2, a weight_data_size that
    splits into directions x gates x num_output (ncnn derives the input size from it), and 1 or
    `max_blobs` bottoms / tops (with the initial / final hidden states)."""
    positive(p, "num_output")
    one_of(p, "direction", (0, 1, 2), "0 forward, 1 reverse, 2 bidirectional")
    hidden = getattr(p, "hidden_size", 0) or p.num_output
    directions = 2 if p.direction == 2 else 1
    multiple(p, "weight_data_size", directions * gates * hidden, "directions x %d gates x hidden size" % gates)
    if p.bottom_count not in (1, max_blobs) or p.top_count not in (1, max_blobs):
        raise Invalid("has %d bottoms and %d tops: ncnn's forward takes 1 or %d of each"
                      % (p.bottom_count, p.top_count, max_blobs))
    if p.int8_scale_term < 0:
        raise Invalid("int8_scale_term=%d: must be 0 or positive" % p.int8_scale_term)
