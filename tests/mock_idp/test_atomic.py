"""Atomic writes (mock_idp/atomic.py): the one writer for keys, the dev client, reports and run files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mock_idp import atomic
from mock_idp.clients import ensure_dev_client


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_private_file_is_created_private(tmp_path: Path) -> None:
    target = tmp_path / "secret.pem"
    atomic.write_bytes(target, b"key", 0o600, durable=True)
    assert target.read_bytes() == b"key" and _mode(target) == 0o600
    assert _mode(ensure_dev_client(tmp_path / "state", "http://testserver")) == 0o600


def test_a_write_replaces_the_whole_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic.write_text(target, "old")
    atomic.write_text(target, "new\r\n")
    assert target.read_bytes() == b"new\r\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic.write_text(target, "old")

    def crash(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic.write_with(target, crash)
    assert target.read_text() == "old"
    assert not any(p.name.endswith(atomic.TEMP_SUFFIX) for p in tmp_path.iterdir())
