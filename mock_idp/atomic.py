"""Write files atomically (signing keys, the dev client, reports, the runner's loadtest.json/run.json):
a reader never sees half a file. The one implementation: every layer of the stack writes through it.

Each file is written to a hidden temporary name in the same folder, so ``os.replace`` is a rename on
one filesystem (atomic on POSIX and Windows), and the temporary file is removed if writing fails. A
file is created with its final mode (``0o600`` for a private key), so it is never readable by others,
not even for the instant before a chmod.
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


def write_bytes(path: Path, data: bytes, mode: int = 0o666, durable: bool = False) -> None:
    """Replace *path* with *data*; the file is created with *mode* (less the umask). *durable* syncs
    the data to disk before the rename, for state that must survive a power cut (keys)."""
    with replacing(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_with(path: Path, writer: Callable[[Path], None]) -> None:
    """Let ``writer`` fill the temporary path (for example ``Figure.savefig``), then swap it in."""
    with replacing(path) as tmp:
        writer(tmp)
