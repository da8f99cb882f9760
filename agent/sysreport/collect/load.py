"""Load averages, absolute and per logical core.

    {"load1": 0.52, "load5": 0.4, "load15": 0.31,
     "per_core1": 0.13, "per_core5": 0.1, "per_core15": 0.08}
"""

from __future__ import annotations

import os

import psutil

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any


def collect(config: Any) -> dict:
    load1, load5, load15 = os.getloadavg()
    cores = psutil.cpu_count() or 1
    return {
        "load1": round(load1, 2), "load5": round(load5, 2), "load15": round(load15, 2),
        "per_core1": round(load1 / cores, 2), "per_core5": round(load5 / cores, 2),
        "per_core15": round(load15 / cores, 2),
    }
