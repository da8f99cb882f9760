"""CPU use over the sampling window, total and per logical CPU.

    {"logical": 8, "physical": 4, "percent": 12.5, "per_cpu": [10.0, 15.0, ...],
     "sample_seconds": 0.1}

psutil's first cpu_percent() without an interval is a meaningless 0.0 and
cpu_percent(interval=1) blocks a second; collect_all() calls begin() when the window
opens and collect() when it closes, so the other collectors run in between.
"""

from __future__ import annotations

import time

import psutil

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any, List, Tuple


def begin() -> Tuple[float, list]:
    """First sample: (monotonic time, per-CPU times). One read of /proc/stat."""
    return time.monotonic(), psutil.cpu_times(percpu=True)


def _busy_total(t: Any) -> Tuple[float, float]:
    # On Linux guest time is already counted in user/nice: leave it out of the total,
    # as psutil's own cpu_percent() does. Idle time includes iowait.
    total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
    idle = t.idle + getattr(t, "iowait", 0.0)
    return total - idle, total


def _percent(busy: float, total: float) -> float:
    if total <= 0:
        return 0.0
    return round(min(100.0, max(0.0, busy / total * 100.0)), 1)


def collect(config: Any, started: Tuple[float, list]) -> dict:
    t0, before = started
    after = psutil.cpu_times(percpu=True)
    elapsed = time.monotonic() - t0
    per_cpu: List[float] = []
    busy_sum = total_sum = 0.0
    for old, new in zip(before, after):
        b0, t0_ = _busy_total(old)
        b1, t1 = _busy_total(new)
        busy, total = b1 - b0, t1 - t0_
        per_cpu.append(_percent(busy, total))
        busy_sum += busy
        total_sum += total
    return {
        "logical": psutil.cpu_count() or len(after),
        "physical": psutil.cpu_count(logical=False),
        "percent": _percent(busy_sum, total_sum),
        "per_cpu": per_cpu,
        "sample_seconds": round(elapsed, 3),
    }
