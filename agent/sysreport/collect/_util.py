"""Helpers shared by the collectors (and by judge/history for config access)."""

from __future__ import annotations

import threading

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any, Callable, Dict


class Unavailable(Exception):
    """Raised by a collector whose section does not exist here ("no sensors reported").

    The message is the reason; isolate() prefixes "not available: ".
    """


_MISSING = object()


def setting(config: Any, section: str, key: str, default: Any = None) -> Any:
    """config.<section>.<key>, tolerant of a missing section or key (and of plain dicts)."""
    if config is None:
        return default
    part = config.get(section, _MISSING) if isinstance(config, dict) else getattr(config, section, _MISSING)
    if part is _MISSING or part is None:
        return default
    value = part.get(key, _MISSING) if isinstance(part, dict) else getattr(part, key, _MISSING)
    return default if value is _MISSING else value


def field(obj: Any, key: str, default: Any = None) -> Any:
    """obj.key or obj[key]: config sections may be objects or dicts."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def bounded(call: Callable[[], Any], timeout: float, what: str) -> Any:
    """call() in a daemon thread; TimeoutError if it has not returned within timeout.

    A thread stuck in statvfs() on a dead server cannot be killed, but as a daemon it
    does not keep the program from exiting.
    """
    box: Dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    worker = threading.Thread(target=run, name="sysreport-bounded", daemon=True)
    worker.start()
    worker.join(timeout)
    if "error" in box:
        raise box["error"]
    if "value" in box:
        return box["value"]
    raise TimeoutError(f"{what} did not answer within {timeout:g}s")
