"""Files that appear whole or not at all, and stay after a crash or a power cut.

    write_atomic(state_dir, "last-status.json", data, mode=0o644)

A temporary file in the same directory, fsync, rename over the name, fsync of the
directory. The history, the outbox and last-status.json are written this way; the
outbox removes temporary files a crash left behind (they start with TEMP_PREFIX).
"""

from __future__ import annotations

import os

TEMP_PREFIX = ".tmp-"

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Optional


def write_atomic(directory: str, name: str, data: bytes, mode: Optional[int] = None) -> str:
    import tempfile  # only writers need it: keep it off the collect path

    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        path = os.path.join(directory, name)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    sync_directory(directory)
    return path


def sync_directory(directory: str) -> None:
    """Make a rename or an unlink in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
