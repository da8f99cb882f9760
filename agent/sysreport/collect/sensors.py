"""Temperatures where the hardware reports them (virtual machines usually have none).

    [{"sensor": "coretemp", "label": "Package id 0", "current": 48.0, "high": 80.0, "critical": 100.0}]
"""

from __future__ import annotations


import psutil

from ._util import Unavailable

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any, List


def _num(value: Any) -> Any:
    # psutil gives None (or sometimes 0.0) when a limit is not reported.
    return round(float(value), 1) if value else None


def collect(config: Any) -> List[dict]:
    if not hasattr(psutil, "sensors_temperatures"):
        raise Unavailable("not supported on this platform")
    found = psutil.sensors_temperatures()
    out = []
    for sensor, entries in sorted(found.items()):
        for e in entries:
            if e.current is None:
                continue
            out.append({"sensor": sensor, "label": e.label or sensor,
                        "current": round(float(e.current), 1),
                        "high": _num(e.high), "critical": _num(e.critical)})
    if not out:
        raise Unavailable("no sensors reported")
    return out
