"""Who served each step: the IdP's own per-route latency per stage, from /metrics samples in idp.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loginload.idp_routes import parse
from reports.idp_routes import stage_routes, who_served
from reports.run import RunData, StageResult

LE = [0.001, 0.005, 0.01, 0.05]


def _metrics(token: tuple[int, int, int, int, int], total_s: float) -> str:
    """A /metrics text with /token's cumulative buckets (last = +Inf = count)."""
    lines = [
        f'mock_idp_request_seconds_bucket{{le="{le}",route="/token"}} {n}.0'
        for le, n in zip(LE, token, strict=False)
    ]
    lines += [
        f'mock_idp_request_seconds_bucket{{le="+Inf",route="/token"}} {token[-1]}.0',
        f'mock_idp_request_seconds_count{{route="/token"}} {token[-1]}.0',
        f'mock_idp_request_seconds_sum{{route="/token"}} {total_s}',
        'mock_idp_request_seconds_count{route="/health"} 0.0',
        "mock_idp_logins_total 3.0",
    ]
    return "\n".join(lines) + "\n"


def test_parse_reads_each_routes_histogram_and_leaves_out_idle_ones() -> None:
    routes = parse(_metrics((1, 5, 9, 10, 10), 0.05))
    assert set(routes) == {"/token"}  # /health counted nothing
    assert routes["/token"] == {"le": LE, "buckets": [1.0, 5.0, 9.0, 10.0], "count": 10.0, "sum": 0.05}


def _stage(index: int, start: float, callback_p95: float | None = None) -> StageResult:
    latency: dict[str, dict[str, Any]] = {"journey": {"count": 100, "p95_ms": 50.0}}
    if callback_p95 is not None:
        latency["step:rp:callback"] = {"count": 100, "p95_ms": callback_p95}
    return StageResult(
        index, f"s{index}", "tier", 1_000_000, 10.0, 8.0, start, 1.0, 10, 10, 10, 10, 0.0,
        {"started": 100}, {}, latency, {}, (),
    )  # fmt: skip


def _run(samples: list[tuple[float, str]], stages: list[StageResult]) -> RunData:
    routes = [{"t": t, "routes": parse(text)} for t, text in samples]
    return RunData(Path("."), {}, tuple(stages), None, {"workers": 1, "series": [], "routes": routes})


def test_a_stages_routes_are_the_difference_across_its_steady_window() -> None:
    # stage 0: 0..10 s, steady from 2 s; stage 1: 10..20 s, steady from 12 s
    samples = [
        (1.0, _metrics((0, 0, 0, 0, 0), 0.0)),
        (2.0, _metrics((10, 10, 10, 10, 10), 0.005)),  # the warm-up's ten: left out
        (10.0, _metrics((100, 110, 110, 110, 110), 0.055)),  # 90 under 1 ms, 10 under 5 ms in stage 0
        (12.0, _metrics((100, 110, 110, 110, 110), 0.055)),
        (20.0, _metrics((100, 110, 150, 200, 210), 5.0)),  # 100 more, slower: in stage 1
    ]
    routes = stage_routes(_run(samples, [_stage(0, 0.0), _stage(1, 10.0)]))
    (first,), (second,) = routes[0], routes[1]
    assert first["count"] == 100 and first["p95_ms"] == pytest.approx(3.0) and not first["p95_beyond"]
    assert second["count"] == 100 and second["mean_ms"] == pytest.approx(1000 * 4.945 / 100)
    assert second["p95_ms"] == pytest.approx(50.0) and second["p95_beyond"], "95 of 100 are past 50 ms"


def test_the_service_is_named_when_its_callback_is_slow_and_the_idps_exchange_is_not() -> None:
    routes = [{"route": "/token", "p95_ms": 8.0}, {"route": "/userinfo", "p95_ms": 3.0}]
    verdict = who_served(_stage(0, 0.0, callback_p95=1200.0), routes, idp_cpu=0.3, workers=1)
    assert verdict is not None and verdict["side"] == "service"
    assert (verdict["idp_token_p95_ms"], verdict["idp_userinfo_p95_ms"]) == (8.0, 3.0)
    slow_idp = [{"route": "/token", "p95_ms": 900.0}, {"route": "/userinfo", "p95_ms": 200.0}]
    assert who_served(_stage(0, 0.0, 1200.0), slow_idp, 0.3, 1)["side"] == "idp"  # type: ignore[index]
    busy = who_served(_stage(0, 0.0, 1200.0), routes, idp_cpu=1.9, workers=2)
    assert busy is not None and busy["side"] == "idp", "an IdP at its cores' limit is the bottleneck"
    assert who_served(_stage(0, 0.0), routes, 0.3, 1) is None  # not relying-party mode
