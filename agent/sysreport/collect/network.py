"""I/O counters per network interface since boot (lo skipped).

    [{"interface": "eth0", "bytes_sent": 1048576, "bytes_recv": 2097152, "packets_sent": 812,
      "packets_recv": 1530, "errin": 0, "errout": 0, "dropin": 0, "dropout": 0}]
"""

from __future__ import annotations


import psutil

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any, List


def collect(config: Any) -> List[dict]:
    out = []
    for name, c in sorted(psutil.net_io_counters(pernic=True).items()):
        if name == "lo":
            continue
        out.append({"interface": name, "bytes_sent": c.bytes_sent, "bytes_recv": c.bytes_recv,
                    "packets_sent": c.packets_sent, "packets_recv": c.packets_recv,
                    "errin": c.errin, "errout": c.errout, "dropin": c.dropin,
                    "dropout": c.dropout})
    return out
