"""What a run was tested on, for the report's first lines: versions and the machine's CPUs.

An architect compares figures across runs and machines ("1.2 ms a login" means little without the
CPU it was measured on), so ``run.json`` records them; the report renders them in words.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any


def versions() -> dict[str, str | None]:
    """loginload's, Locust's and Python's versions (None for a package not installed)."""
    return {
        "loginload": _version("loginload"),
        "locust": _version("locust"),
        "python": platform.python_version(),
    }


def machine(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """The CPU model, the cores this process may use, and the OS, as far as they can be read."""
    return {
        "cpu_model": _cpu_model(cpuinfo) or platform.processor() or None,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": f"{platform.system()} {platform.release()} ({sys.platform})",
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model(cpuinfo: Path) -> str | None:
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "cpu model") and value.strip():
            return value.strip()
    return None
