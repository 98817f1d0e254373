"""Write files atomically (reports, and the runner's loadtest.json/run.json): a reader never sees half a file.

Each file is written to a hidden temporary name in the same folder, so ``os.replace`` is a rename on
one filesystem (atomic on POSIX and Windows), and the temporary file is removed if writing fails.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on failure it is removed."""
    tmp = temp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")


def write_with(path: Path, writer: Callable[[Path], None]) -> None:
    """Let ``writer`` fill the temporary path (for example ``Figure.savefig``), then swap it in."""
    with replacing(path) as tmp:
        writer(tmp)
