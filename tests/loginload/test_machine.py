"""What a run was tested on: read from the machine, recorded in run.json."""

from __future__ import annotations

from pathlib import Path

from loginload.machine import machine, versions


def test_the_cpu_model_is_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Example CPU @ 2.00GHz\n")
    found = machine(cpuinfo)
    assert found["cpu_model"] == "Example CPU @ 2.00GHz"
    assert isinstance(found["cores"], int) and found["cores"] >= 1


def test_an_unreadable_cpuinfo_is_not_an_error(tmp_path: Path) -> None:
    assert "cpu_model" in machine(tmp_path / "absent")


def test_versions_name_loginload_and_locust() -> None:
    found = versions()
    assert found["loginload"] and found["locust"] and found["python"]
