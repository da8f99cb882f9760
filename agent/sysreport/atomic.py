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
    from typing import Dict, List, Optional


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


def write_files(directory: str, files: Dict[str, bytes]) -> List[str]:
    """Write each of `files` (name -> bytes) into `directory`, creating it, each
    atomically, logging each path written. On an error, log one line naming the file
    and return []: what `preview --output` and `digest --output` need."""
    from .log import get_logger

    log = get_logger("sysreport")
    written = []
    path = directory
    try:
        os.makedirs(directory, exist_ok=True)
        for name, data in files.items():
            path = os.path.join(directory, name)
            written.append(write_atomic(directory, name, data, mode=0o644))
            log.info("wrote %s", path)
    except OSError as exc:
        log.error("cannot write %s: %s; choose a directory you can write to",
                  path, exc.strerror or exc)
        return []
    return written
