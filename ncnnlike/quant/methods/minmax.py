"""minmax method: threshold = absmax, nothing clipped (the baseline every other method is compared to)."""
from ncnnlike.errors import NcnnlikeError


def threshold(stats):
    if stats.absmax.samples == 0:
        raise NcnnlikeError("method minmax needs phase-1 statistics (no sample was seen)")
    return float(stats.absmax.absmax)
