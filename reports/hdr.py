"""Summaries straight from HdrHistogram encodings, without ever expanding them into requests.

``loadtest.json`` carries each stage's merged HdrHistograms in HdrHistogram's compressed encoding
(``loadtests/stats.py``). Decoding is done in C by ``hdrhistogram``; its pure-Python percentile and
mean walks visit every one of the ~3,000 buckets once per query, which dominates an hour-long report.
``loadtests.stats.summarise`` reads the buckets with numpy instead, with hdrh's own bucket arithmetic.
"""

from __future__ import annotations

import binascii
import zlib
from typing import Any

from hdrh.codec import HdrCookieException, HdrHistogramSettingsException, HdrLengthException
from hdrh.histogram import HdrHistogram

from loadtests.stats import summarise


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


def summarise_encoded(encoded: str) -> dict[str, Any]:
    return summarise(decode(encoded))
