"""Relying-party mode's options are checked together before anything starts (one line, exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.options import RUN, defaults
from loginload.preflight import check_rp


def values(**kw: object) -> object:
    v = defaults(RUN)
    for k, x in kw.items():
        setattr(v, k, x)
    return v


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"rp_expect": "x"}, "--rp-expect needs --rp"),
        ({"rp": "http://127.0.0.1:8000/"}, "needs --rp-client FILE"),
        ({"rp": "demo", "rp_client": "c.toml"}, "registers its own client"),
        ({"rp": "demo", "target": "http://127.0.0.1:9"}, "leave out --target"),
        ({"rp": "http://svc.example.com/", "target": "http://127.0.0.1:9"}, "refusing to send load"),
        ({"rp_pid": [1]}, "--rp-pid needs --rp"),
        ({"rp": "demo", "rp_pid": [1]}, "--rp demo measures its own processes"),
        ({"rp": "demo", "rp_pid": [2**22 + 1]}, f"--rp-pid {2**22 + 1}: no such process"),
        ({"rp_metrics": "http://127.0.0.1:9/metrics"}, "--rp-metrics needs --rp"),
        ({"rp": "demo", "rp_metrics": "http://127.0.0.1:9/metrics"}, "--rp-metrics is for your own service"),
        (
            {"rp": "http://127.0.0.1:8000/", "rp_metrics": "http://127.0.0.1:9/metrics", "rp_pid": [1]},
            "give one of them",
        ),
        (
            {"rp": "http://127.0.0.1:8000/", "rp_metrics": "http://svc.example.com/metrics"},
            "--rp-metrics http://svc.example.com/metrics: refusing to send load to svc.example.com",
        ),
        (
            {"rp": "http://127.0.0.1:8000/", "rp_metrics": "http://127.0.0.1:9/metrics"},
            "--rp-metrics http://127.0.0.1:9/metrics: no process_cpu_seconds_total there",
        ),
    ],
)
def test_rp_options_that_cannot_work_together(given: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        check_rp(values(**given))  # type: ignore[arg-type]


def test_a_registration_without_a_key_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "rp.toml"
    path.write_text('[[clients]]\nclient_id = "svc"\nredirect_uris = ["http://127.0.0.1:8000/cb"]\n')
    with pytest.raises(ValueError, match="public_key_pem"):
        check_rp(values(rp="http://127.0.0.1:8000/", rp_client=str(path)))  # type: ignore[arg-type]
