"""model-compare --plot: per-layer SNR fp32 vs int8 as a horizontal bar chart, drawn with OpenCV.

One row per quantized layer in network order (name and type on the left), the bar length is the
SNR in dB of the layer's top blob, with its value printed at the end; bars are coloured by band
(red < 10 dB, orange < 20 dB, green otherwise) so the layers that hurt stand out. An exact match
(infinite SNR) is drawn to the right edge and labelled "inf".
"""
import math

import cv2
import numpy as np

from ncnnlike.errors import NcnnlikeError

FONT = cv2.FONT_HERSHEY_SIMPLEX
TEXT_SCALE, TITLE_SCALE = 0.45, 0.6
ROW, BAR = 20, 14
WIDTH = 1200
BANDS = ((10.0, (60, 60, 220), "< 10 dB"), (20.0, (40, 150, 245), "10-20 dB"), (math.inf, (90, 170, 60), ">= 20 dB"))
BLACK, GREY, LIGHT, WHITE = (0, 0, 0), (110, 110, 110), (225, 225, 225), (255, 255, 255)


def _text(image, text, x, y, scale=TEXT_SCALE, color=BLACK, thickness=1):
    cv2.putText(image, text, (int(x), int(y)), FONT, scale, color, thickness, cv2.LINE_AA)


def _width(text, scale=TEXT_SCALE, thickness=1):
    return cv2.getTextSize(text, FONT, scale, thickness)[0][0]


def _colour(snr):
    return next((colour for limit, colour, _ in BANDS if snr < limit), BANDS[-1][1])


def _axis_range(snrs):
    """(low, high, step) of the dB axis: covers every finite value and 0, with round ticks."""
    finite = [s for s in snrs if math.isfinite(s)]
    low = min([0.0] + finite)
    high = max([10.0] + [s for s in finite if s > 0])
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500) if (high - low) / s <= 12)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def _vertical_label(image, text, x_centre, y_centre):
    """Draw `text` rotated 90 degrees counter-clockwise, centred on (x_centre, y_centre)."""
    (w, h), base = cv2.getTextSize(text, FONT, TEXT_SCALE, 1)
    strip = np.full((h + base + 4, w + 4, 3), 255, np.uint8)
    _text(strip, text, 2, h + 2)
    strip = cv2.rotate(strip, cv2.ROTATE_90_COUNTERCLOCKWISE)
    top, left = int(y_centre - strip.shape[0] / 2), int(x_centre - strip.shape[1] / 2)
    if top >= 0 and top + strip.shape[0] <= image.shape[0]:
        image[top:top + strip.shape[0], left:left + strip.shape[1]] = np.minimum(
            image[top:top + strip.shape[0], left:left + strip.shape[1]], strip)


def snr_chart(labels, snrs, title, subtitle=""):
    """BGR image of the chart: `labels` (one per layer, network order) and their SNRs in dB."""
    if len(labels) != len(snrs) or not labels:
        raise NcnnlikeError("the SNR plot needs one SNR per layer and at least one quantized layer")
    left = max(_width(label) for label in labels) + 60
    right, top, bottom = 70, 100, 70
    height = top + ROW * len(labels) + bottom
    image = np.full((height, WIDTH, 3), 255, np.uint8)
    low, high, step = _axis_range(snrs)
    span = WIDTH - left - right

    def x_of(value):
        return left + (min(max(value, low), high) - low) / (high - low) * span

    _text(image, title, 20, 30, TITLE_SCALE, thickness=2)
    if subtitle:
        _text(image, subtitle, 20, 55)
    legend_x = WIDTH - right - 330
    for i, (_, colour, name) in enumerate(BANDS):
        cv2.rectangle(image, (legend_x + 110 * i, 68), (legend_x + 110 * i + 14, 82), colour, -1)
        _text(image, name, legend_x + 110 * i + 20, 81)
    plot_bottom = top + ROW * len(labels)
    tick = low
    while tick <= high + 1e-9:
        x = int(round(x_of(tick)))
        cv2.line(image, (x, top - 4), (x, plot_bottom), LIGHT if tick else GREY, 1)
        label = "%g" % tick
        _text(image, label, x - _width(label) / 2, plot_bottom + 18)
        tick += step
    zero = int(round(x_of(0.0)))
    for i, (label, snr) in enumerate(zip(labels, snrs)):
        y = top + ROW * i
        _text(image, label, left - 12 - _width(label), y + ROW - 6)
        end = x_of(high if snr == math.inf else snr)
        x0, x1 = sorted((zero, int(round(end))))
        cv2.rectangle(image, (x0, y + (ROW - BAR) // 2), (max(x1, x0 + 1), y + (ROW + BAR) // 2),
                      _colour(snr), -1)
        value = "inf" if snr == math.inf else "%.1f" % snr
        _text(image, value, max(x1, zero) + 4, y + ROW - 6, color=GREY)
    cv2.line(image, (left, plot_bottom), (WIDTH - right, plot_bottom), BLACK, 1)
    cv2.line(image, (zero, top - 4), (zero, plot_bottom), BLACK, 1)
    xlabel = "SNR of the layer's top blob, fp32 vs int8 (dB, higher is better)"
    _text(image, xlabel, left + (span - _width(xlabel)) / 2, plot_bottom + 45)
    _vertical_label(image, "quantized layer (network order)", 14, top + ROW * len(labels) / 2)
    return image


def png_bytes(image):
    """PNG encoding of a chart."""
    ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise NcnnlikeError("could not encode the plot as PNG")
    return data.tobytes()


def comparison_png(comparison, title):
    """PNG of the per-layer SNR chart of a quant.compare comparison, its output figures as subtitle."""
    names = list(comparison.layers)
    labels = ["%s (%s)" % (n, comparison.probes[n].type) for n in names]
    out = next(iter(comparison.outputs.values()))
    subtitle = ("%d samples; network output cosine %.4f, top-1 agreement %.1f%%; requantized tops compared as "
                "value / top scale" % (comparison.samples, out.cosine, 100 * out.top1_agreement))
    return png_bytes(snr_chart(labels, [comparison.layers[n].snr_db for n in names], title, subtitle))
