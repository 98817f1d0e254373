"""Per-stage histograms and counters: clamping, draining, merging payloads on the master, CPU share."""

from __future__ import annotations

import json
import random

import pytest

from loadtests.stats import (
    COMPLETED,
    FAILED,
    HIGHEST_US,
    LOWEST_US,
    OFFERED,
    PERCENTILES,
    Aggregate,
    Recorder,
    StageStats,
    new_histogram,
    record_many,
    summarise,
)


def test_latency_is_recorded_in_microseconds() -> None:
    r = Recorder()
    r.latency(0, "token", 0.0125)
    r.stages[0].flush()
    h = r.stages[0].hists["token"]
    assert h.get_total_count() == 1
    assert h.values_are_equivalent(h.get_max_value(), 12_500)


def test_latency_clamps_to_the_histogram_range() -> None:
    r = Recorder()
    r.latency(0, "authorize", 0.0)
    r.latency(0, "authorize", -3.0)
    r.latency(0, "authorize", 1e-9)
    r.latency(0, "authorize", 10_000.0)  # beyond 10 minutes: kept as the highest value, not lost
    r.stages[0].flush()
    h = r.stages[0].hists["authorize"]
    assert h.get_total_count() == 4
    assert h.get_min_value() == LOWEST_US
    assert h.get_count_at_value(LOWEST_US) == 3
    assert h.values_are_equivalent(h.get_max_value(), HIGHEST_US)


def test_record_many_counts_as_record_value_does() -> None:
    rng = random.Random(7)
    edges = [LOWEST_US, 2, 127, 128, 255, 256, 1023, 1024, 2**20 - 1, 2**20, HIGHEST_US - 1, HIGHEST_US]
    values = edges + [int(rng.lognormvariate(9, 3)) % HIGHEST_US + 1 for _ in range(5000)]
    one_by_one, at_once = new_histogram(), new_histogram()
    for v in values:
        one_by_one.record_value(v)
    record_many(at_once, values)
    assert list(at_once.counts) == list(one_by_one.counts)
    assert at_once.get_total_count() == len(values)
    assert (at_once.get_min_value(), at_once.get_max_value()) == (
        one_by_one.get_min_value(),
        one_by_one.get_max_value(),
    )


def test_latencies_wait_for_the_drain_and_all_arrive() -> None:
    r = Recorder()
    for ms in (1, 2, 3):
        r.latency(0, "token", ms / 1000)
    assert "token" not in r.stages[0].hists  # appended, not yet recorded
    payload = r.drain()
    merged = StageStats()
    merged.add_payload(payload["stages"]["0"])
    assert merged.hists["token"].get_total_count() == 3
    assert r.drain()["stages"] == {}  # recorded once: the next report starts empty


def test_drain_hands_over_and_resets() -> None:
    r = Recorder()
    r.count(0, OFFERED, 3)
    r.count(1, COMPLETED)
    r.failure(1, "id_token")
    r.latency(1, "token", 0.02)
    payload = r.drain()
    assert set(payload) == {"stages", "cpu_s", "wall_s"}
    assert set(payload["stages"]) == {"0", "1"}
    assert payload["stages"]["0"]["counts"] == {OFFERED: 3}
    assert payload["stages"]["1"]["failures"] == {"id_token": 1}
    assert set(payload["stages"]["1"]["hists"]) == {"token"}
    assert payload["cpu_s"] >= 0 and payload["wall_s"] >= 0
    json.dumps(payload)  # travels in a Locust report: plain JSON data only

    again = r.drain()
    assert again["stages"] == {}
    assert all(s.empty() for s in r.stages.values())  # histograms are kept and reset, not re-made


def test_empty_histograms_are_not_shipped() -> None:
    s = StageStats()
    s.hist("unused")
    s.counts[OFFERED] += 1
    assert s.to_payload() == {"counts": {OFFERED: 1}, "failures": {}, "hists": {}}


def _record(recorder: Recorder, stage: int, name: str, seconds: list[float]) -> None:
    for v in seconds:
        recorder.latency(stage, name, v)


def test_payloads_merge_into_one_distribution() -> None:
    rng = random.Random(5)
    a_values = [rng.lognormvariate(-4, 0.6) for _ in range(3000)]
    b_values = [rng.lognormvariate(-2.5, 1.0) for _ in range(1000)]
    a, b = Recorder(), Recorder()
    _record(a, 2, "token", a_values)
    _record(b, 2, "token", b_values)
    _record(b, 2, "userinfo", [0.005, 0.006])
    a.count(2, OFFERED, 10)
    a.count(2, COMPLETED, 7)
    a.failure(2, "sms_code")
    b.count(2, OFFERED, 5)
    b.count(2, FAILED, 2)
    b.failure(2, "sms_code")
    b.failure(2, "id_token")

    agg = Aggregate()
    agg.add("gen-a", a.drain(), now=1.0)
    agg.add("gen-b", b.drain(), now=1.0)

    direct = new_histogram()
    for v in a_values + b_values:
        direct.record_value(int(v * 1_000_000))
    merged = agg.stages[2].hists["token"]
    assert merged.get_total_count() == len(a_values) + len(b_values)
    for p in PERCENTILES:
        assert merged.get_value_at_percentile(p) == direct.get_value_at_percentile(p), p
    assert merged.get_max_value() == direct.get_max_value()
    assert agg.stages[2].hists["userinfo"].get_total_count() == 2

    assert dict(agg.stages[2].counts) == {OFFERED: 15, COMPLETED: 7, FAILED: 2}
    assert dict(agg.stages[2].failures) == {"sms_code": 2, "id_token": 1}
    assert set(agg.stages) == {2}


def test_merged_p99_differs_from_an_average_of_p99s() -> None:
    fast, slow = Recorder(), Recorder()
    _record(fast, 0, "token", [0.010] * 990)
    _record(slow, 0, "token", [1.0] * 10)
    agg = Aggregate()
    agg.add("fast", fast.drain())
    agg.add("slow", slow.drain())
    summary = agg.stages[0].summary()["latency"]["token"]
    assert summary["count"] == 1000
    assert summary["p50_ms"] == pytest.approx(10, rel=0.01)
    assert summary["p99.9_ms"] == pytest.approx(1000, rel=0.01)
    assert summary["p99_ms"] == pytest.approx(10, rel=0.01)


def test_payloads_accumulate_across_reports() -> None:
    r = Recorder()
    agg = Aggregate()
    for _ in range(3):
        r.count(0, OFFERED, 2)
        r.latency(0, "token", 0.01)
        agg.add("gen", r.drain(), now=1.0)
    assert agg.stages[0].counts[OFFERED] == 6
    assert agg.stages[0].hists["token"].get_total_count() == 3


def test_cpu_share_is_cpu_over_wall_in_the_window() -> None:
    agg = Aggregate()
    agg.add("gen-1", {"stages": {}, "cpu_s": 1.0, "wall_s": 4.0}, now=10.0)
    agg.add("gen-1", {"stages": {}, "cpu_s": 3.0, "wall_s": 4.0}, now=20.0)
    agg.add("gen-1", {"stages": {}, "cpu_s": 9.0, "wall_s": 0.0}, now=25.0)  # no wall time: ignored
    agg.add("gen-2", {"stages": {}, "cpu_s": 2.0, "wall_s": 2.0}, now=20.0)
    assert agg.cpu_share("gen-1", 0.0, 30.0) == pytest.approx(0.5)
    assert agg.cpu_share("gen-1", 15.0, 30.0) == pytest.approx(0.75)
    assert agg.cpu_share("gen-1", 10.0, 10.0) == pytest.approx(0.25)  # window ends are inclusive
    assert agg.cpu_share("gen-2", 0.0, 30.0) == pytest.approx(1.0)


def test_cpu_share_is_none_without_reports() -> None:
    agg = Aggregate()
    assert agg.cpu_share("gen-1", 0.0, 100.0) is None
    agg.add("gen-1", {"stages": {}, "cpu_s": 1.0, "wall_s": 2.0}, now=50.0)
    assert agg.cpu_share("gen-1", 60.0, 100.0) is None
    assert agg.cpu_share("gen-2", 0.0, 100.0) is None


def test_summarise_an_empty_histogram() -> None:
    assert summarise(new_histogram()) == {"count": 0}


def test_summarise_reports_milliseconds() -> None:
    h = new_histogram()
    for micros in (1_000, 2_000, 3_000, 4_000):
        h.record_value(micros)
    out = summarise(h)
    assert set(out) == {"count", "mean_ms", "max_ms"} | {f"p{p:g}_ms" for p in PERCENTILES}
    assert out["count"] == 4
    assert out["mean_ms"] == pytest.approx(2.5, rel=0.01)
    assert out["max_ms"] == pytest.approx(4.0, rel=0.01)
    assert out["p50_ms"] == pytest.approx(2.0, rel=0.01)


def test_stage_stats_payload_round_trip() -> None:
    original = StageStats()
    original.counts[OFFERED] += 4
    original.failures["consent"] += 1
    for micros in (900, 1_500, 250_000, 3_000_000):
        original.hist("sign_in").record_value(micros)
    copy = StageStats()
    copy.add_payload(json.loads(json.dumps(original.to_payload())))
    assert copy.summary() == original.summary()
    copy.add_payload(original.to_payload())
    assert copy.counts[OFFERED] == 8
    assert copy.hists["sign_in"].get_total_count() == 8


def test_summarise_equals_hdrhistograms_own_walks() -> None:
    import random

    from loadtests.stats import PERCENTILES, new_histogram, summarise

    rng = random.Random(5)
    h = new_histogram()
    for _ in range(20_000):
        h.record_value(int(rng.lognormvariate(9, 1.2)))
    got = summarise(h)
    assert got["count"] == h.get_total_count() == 20_000
    assert got["mean_ms"] == h.get_mean_value() / 1000
    assert got["max_ms"] == h.get_max_value() / 1000
    for p in PERCENTILES:
        assert got[f"p{p:g}_ms"] == h.get_value_at_percentile(p) / 1000, p
