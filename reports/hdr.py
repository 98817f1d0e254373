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
    mean_total = sum(int(counts[i]) * _median_equivalent(h, h.get_value_from_index(int(i))) for i in nonzero)
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


def _median_equivalent(h: HdrHistogram, value: int) -> int:
    """hdrh's ``_hdr_median_equiv_value``: the middle of the value's bucket, used for the mean."""
    bucket = h._get_bucket_index(value)
    sub_bucket = h._get_sub_bucket_index(value, bucket)
    lowest = h.get_value_from_sub_bucket(bucket, sub_bucket)
    if sub_bucket >= h.sub_bucket_count:
        bucket += 1
    return int(lowest + ((1 << (h.unit_magnitude + bucket)) >> 1))
