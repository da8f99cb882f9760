"""<state>/lock: two runs never send at once (fcntl.flock, released when the process ends).

A second run waits up to `wait` seconds, then gives up with LockBusy (exit 75; `send`
still queues its report, which needs no lock, for the next delivery). The lock is
re-entrant within one process, so `send` can hold it around build + enqueue + flush.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from typing import Dict, Iterator, Tuple

_held: Dict[str, Tuple[int, int]] = {}   # path -> (fd, depth)


class LockBusy(Exception):
    pass


@contextlib.contextmanager
def locked(state_dir: str, wait: float = 60.0) -> Iterator[None]:
    path = os.path.join(state_dir, "lock")
    if path in _held:
        fd, depth = _held[path]
        _held[path] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[path]
            _held[path] = (fd, depth - 1)
        return
    try:
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        # a manual run as another user than the service's, usually
        from sysreport.config import ConfigError
        raise ConfigError(["%s: cannot open the lock (%s): run as the user the service "
                           "runs as, or set state.directory" % (path, exc.strerror or exc)]) \
            from None
    try:
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockBusy("another sysreport run (pid %s) holds %s; gave up after "
                                   "%gs" % (_holder(fd), path, wait)) from None
                time.sleep(0.05)
        try:    # who holds the lock, for the message of a run that waits: nice to have
            os.ftruncate(fd, 0)
            os.pwrite(fd, ("%d\n" % os.getpid()).encode(), 0)
        except OSError:    # a full disk must not cost the report
            pass
        _held[path] = (fd, 1)
        try:
            yield
        finally:
            del _held[path]
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _holder(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode().strip() or "?"
    except OSError:
        return "?"
