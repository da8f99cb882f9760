"""Memory and swap (two sections, two collectors).

    memory: {"total": 8264163328, "available": 5368709120, "used": 2684354560, "percent": 35.0}
    swap:   {"total": 2147479552, "used": 0, "free": 2147479552, "percent": 0.0}
"""

from __future__ import annotations


import psutil

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any


def collect_memory(config: Any) -> dict:
    vm = psutil.virtual_memory()
    return {"total": int(vm.total), "available": int(vm.available),
            "used": int(vm.used), "percent": round(float(vm.percent), 1)}


def collect_swap(config: Any) -> dict:
    sw = psutil.swap_memory()
    return {"total": int(sw.total), "used": int(sw.used), "free": int(sw.free),
            "percent": round(float(sw.percent), 1)}
