"""Per-stage latency histograms (HdrHistogram) and counters, recorded on generators, merged on the master.

Latencies are recorded in microseconds into HdrHistograms with 2 significant digits (1% resolution)
from 1 us to 10 minutes: a fixed-size structure per (stage, name), so memory stays flat however long
a stage runs; no per-request rows are kept. Generators ship their histograms as HdrHistogram's own
compressed encoding in Locust's worker reports, and the master adds them: percentiles are computed
from the merged distribution, never averaged across processes.

A generator appends each latency to a list and records a report's worth at once (:func:`record_many`,
hdrh's bucket arithmetic in numpy) when it drains: hdrh's ``record_value`` is pure Python, ~2% of a
generator's CPU at eight values a login, by profile; the lists hold at most one report interval.
"""

from __future__ import annotations

import ctypes
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram
from numpy.typing import NDArray

LOWEST_US = 1
HIGHEST_US = 600_000_000
DIGITS = 2
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)

# counter names
OFFERED, STARTED, DROPPED, COMPLETED, FAILED, SKIPPED = (
    "offered",
    "started",
    "dropped",
    "completed",
    "failed",
    "skipped",
)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


def record_many(h: HdrHistogram, micros: list[int]) -> None:
    """``h.record_value(v)`` for each of *micros* (ints within the histogram's range), at once.

    The counts index is hdrh's own ``_counts_index_for``: the bucket from the bit length of
    ``v | sub_bucket_mask``, the sub-bucket from a shift (tests/loadtests/test_stats.py checks the two
    agree across the range)."""
    if not micros:
        return
    values = np.asarray(micros, dtype=np.int64)
    bits = _bit_length(values | np.int64(h.sub_bucket_mask))
    bucket = bits - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
    sub_bucket = values >> (bucket + h.unit_magnitude)
    index = ((bucket + 1) << h.sub_bucket_half_count_magnitude) + (sub_bucket - h.sub_bucket_half_count)
    counts = np.ctypeslib.as_array(h.counts)
    counts += np.bincount(index, minlength=counts.size).astype(counts.dtype)
    h.total_count += len(micros)
    h.min_value = min(h.min_value, int(values.min()))
    h.max_value = max(h.max_value, int(values.max()))


def _bit_length(values: NDArray[np.int64]) -> NDArray[np.int64]:
    """int.bit_length of positive int64s below 2**53 (exact as float64): frexp's exponent."""
    return np.frexp(values.astype(np.float64))[1].astype(np.int64)


def reset(h: HdrHistogram) -> None:
    """hdrh's ``reset`` zeroes its counts one by one in Python; memset does it at once."""
    ctypes.memset(h.counts, 0, ctypes.sizeof(h.counts))
    h.total_count = 0
    h.min_value = sys.maxsize
    h.max_value = 0
    h.start_time_stamp_msec = sys.maxsize
    h.end_time_stamp_msec = 0


def add_encoded(target: HdrHistogram, encoded: str) -> None:
    """Add an encoded histogram into *target*.

    hdrh's ``decode_and_add`` leaves a decoded histogram behind that references itself through its
    encoder, so only the cyclic garbage collector frees it: a master merging reports every second
    grew by megabytes between collections. Breaking the cycle frees it at once.
    """
    other = HdrHistogram.decode(encoded)
    target.add(other)
    other.encoder = None


def summarise(h: HdrHistogram) -> dict[str, Any]:
    """count, mean, max and the ``PERCENTILES`` in ms, straight from the buckets.

    hdrh's own percentile and mean walks visit every bucket in Python for each query; numpy finds the
    buckets that hold counts, and the bucket arithmetic is hdrh's, so the figures are identical
    (tests/test_stats.py checks them against ``get_value_at_percentile`` and ``get_mean_value``).
    """
    total = int(h.get_total_count())
    if total == 0:
        return {"count": 0}
    counts = np.ctypeslib.as_array(h.counts)[: h.counts_len].astype(np.int64)
    nonzero = np.flatnonzero(counts)
    cumulative = np.cumsum(counts[nonzero])
    mean_total = int(np.dot(counts[nonzero], _median_equivalents(h, nonzero)))
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


def _median_equivalents(h: HdrHistogram, indexes: NDArray[np.int64]) -> NDArray[np.int64]:
    """hdrh's ``_hdr_median_equiv_value(get_value_from_index(i))`` for many bucket indexes at once:
    each bucket's lowest value plus half its width, used for the mean."""
    half_magnitude, half_count = h.sub_bucket_half_count_magnitude, h.sub_bucket_half_count
    bucket = (indexes >> half_magnitude) - 1
    sub_bucket = (indexes & (half_count - 1)) + half_count
    first = bucket < 0
    sub_bucket = np.where(first, sub_bucket - half_count, sub_bucket)
    bucket = np.where(first, 0, bucket)
    lowest = sub_bucket << (bucket + h.unit_magnitude)
    return np.asarray(lowest + ((np.int64(1) << (h.unit_magnitude + bucket)) >> 1), dtype=np.int64)


@dataclass
class StageStats:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # by failed check
    hists: dict[str, HdrHistogram] = field(default_factory=dict)
    pending: dict[str, list[int]] = field(default_factory=dict)  # microseconds not yet in hists

    def flush(self) -> None:
        """Record the pending latencies into their histograms."""
        for name, micros in self.pending.items():
            if micros:
                record_many(self.hist(name), micros)
                micros.clear()

    def hist(self, name: str) -> HdrHistogram:
        h = self.hists.get(name)
        if h is None:
            h = self.hists[name] = new_histogram()
        return h

    def empty(self) -> bool:
        return (
            not self.counts
            and not self.failures
            and not any(self.pending.values())
            and not any(h.get_total_count() for h in self.hists.values())
        )

    def to_payload(self) -> dict[str, Any]:
        self.flush()
        return {
            "counts": dict(self.counts),
            "failures": dict(self.failures),
            "hists": {
                name: h.encode().decode("ascii") for name, h in self.hists.items() if h.get_total_count()
            },
        }

    def add_payload(self, payload: dict[str, Any]) -> None:
        for k, v in payload.get("counts", {}).items():
            self.counts[k] += int(v)
        for k, v in payload.get("failures", {}).items():
            self.failures[k] += int(v)
        for name, encoded in payload.get("hists", {}).items():
            add_encoded(self.hist(name), encoded)

    def summary(self) -> dict[str, Any]:
        self.flush()
        return {
            "counts": dict(self.counts),
            "failures": dict(self.failures),
            "latency": {name: summarise(h) for name, h in sorted(self.hists.items())},
        }


class Recorder:
    """A generator's measurements since its last report; ``drain`` hands them over and starts afresh."""

    def __init__(self) -> None:
        self.stages: dict[int, StageStats] = defaultdict(StageStats)
        self._cpu = time.process_time()
        self._wall = time.monotonic()

    def count(self, stage: int, name: str, n: int = 1) -> None:
        self.stages[stage].counts[name] += n

    def failure(self, stage: int, check: str) -> None:
        self.stages[stage].failures[check] += 1

    def latency(self, stage: int, name: str, seconds: float) -> None:
        if not math.isfinite(seconds):
            seconds = HIGHEST_US / 1_000_000
        micros = min(max(int(seconds * 1_000_000), LOWEST_US), HIGHEST_US)
        pending = self.stages[stage].pending
        values = pending.get(name)
        if values is None:
            values = pending[name] = []
        values.append(micros)

    def drain(self) -> dict[str, Any]:
        cpu, wall = time.process_time(), time.monotonic()
        payload = {
            "stages": {str(i): s.to_payload() for i, s in self.stages.items() if not s.empty()},
            "cpu_s": cpu - self._cpu,
            "wall_s": wall - self._wall,
        }
        for s in self.stages.values():  # the same histograms start again: no new ones every second
            s.counts.clear()
            s.failures.clear()
            for h in s.hists.values():
                reset(h)
        self._cpu, self._wall = cpu, wall
        return payload


class Aggregate:
    """The master's merged view: per stage, per generator CPU, in arrival order of reports."""

    def __init__(self) -> None:
        self.stages: dict[int, StageStats] = defaultdict(StageStats)
        self.cpu: dict[str, list[tuple[float, float, float]]] = defaultdict(list)  # gen -> (t, cpu, wall)

    def add(self, generator: str, payload: dict[str, Any], now: float | None = None) -> None:
        for key, stage_payload in payload.get("stages", {}).items():
            self.stages[int(key)].add_payload(stage_payload)
        wall = float(payload.get("wall_s", 0.0))
        if wall > 0:
            self.cpu[generator].append(
                (now if now is not None else time.time(), float(payload["cpu_s"]), wall)
            )

    def cpu_share(self, generator: str, since: float, until: float) -> float | None:
        """CPU time / wall time of one generator over the reports that ended in [since, until]."""
        rows = [(c, w) for t, c, w in self.cpu.get(generator, []) if since <= t <= until]
        wall = sum(w for _, w in rows)
        return sum(c for c, _ in rows) / wall if wall > 0 else None
