"""Summaries straight from HdrHistogram encodings, without ever expanding them into requests.

``loadtest.json`` carries each stage's merged HdrHistograms in HdrHistogram's compressed encoding
(``loadtests/stats.py``). Decoding is done in C by ``hdrhistogram``; its pure-Python percentile and
mean walks visit every one of the ~3,000 buckets once per query, which dominates an hour-long report.
Here numpy finds the buckets that hold counts, and the bucket arithmetic is hdrh's own, so the results
are identical to ``loadtests.stats.summarise`` (same percentiles, same "median equivalent" mean).
"""

from __future__ import annotations

import binascii
import zlib
from typing import Any

import numpy as np
from hdrh.codec import HdrCookieException, HdrHistogramSettingsException, HdrLengthException
from hdrh.histogram import HdrHistogram
from numpy.typing import NDArray

from loadtests.stats import PERCENTILES


class HistogramError(ValueError):
    """An encoding that does not decode (truncated, not base64, wrong cookie)."""


_DECODE_ERRORS = (
    binascii.Error,
    zlib.error,
    ValueError,
    TypeError,
    IndexError,
    HdrCookieException,
    HdrLengthException,
    HdrHistogramSettingsException,
)


def decode(encoded: str) -> HdrHistogram:
    try:
        return HdrHistogram.decode(encoded)
    except _DECODE_ERRORS as exc:
        raise HistogramError(f"histogram does not decode: {exc}") from exc


def summarise(h: HdrHistogram) -> dict[str, Any]:
    """count, mean, max and the ``PERCENTILES`` in ms, equal to ``loadtests.stats.summarise``."""
    total = int(h.get_total_count())
    if total == 0:
        return {"count": 0}
    counts = np.ctypeslib.as_array(h.counts)[: h.counts_len].astype(np.int64)
    nonzero = np.flatnonzero(counts)
    cumulative = np.cumsum(counts[nonzero])
    mean_total = int(np.dot(counts[nonzero], median_equivalents(h, nonzero)))
    out: dict[str, Any] = {
        "count": total,
        "mean_ms": mean_total / total / 1000,
        "max_ms": h.get_max_value() / 1000,
    }
    for p in PERCENTILES:
        target = h.get_target_count_at_percentile(p)
        at = min(int(np.searchsorted(cumulative, target, side="left")), nonzero.size - 1)
        value = h.get_value_from_index(int(nonzero[at]))
        out[f"p{p:g}_ms"] = h.get_highest_equivalent_value(value) / 1000
    return out


def summarise_encoded(encoded: str) -> dict[str, Any]:
    return summarise(decode(encoded))


def median_equivalents(h: HdrHistogram, indexes: NDArray[np.int64]) -> NDArray[np.int64]:
    """hdrh's ``_hdr_median_equiv_value(get_value_from_index(i))`` for many bucket indexes at once.

    The middle of each bucket, used for the mean: the bucket's lowest value plus half its width.
    """
    half_magnitude, half_count = h.sub_bucket_half_count_magnitude, h.sub_bucket_half_count
    bucket = (indexes >> half_magnitude) - 1
    sub_bucket = (indexes & (half_count - 1)) + half_count
    first = bucket < 0
    sub_bucket = np.where(first, sub_bucket - half_count, sub_bucket)
    bucket = np.where(first, 0, bucket)
    lowest = sub_bucket << (bucket + h.unit_magnitude)
    return np.asarray(lowest + ((np.int64(1) << (h.unit_magnitude + bucket)) >> 1), dtype=np.int64)
