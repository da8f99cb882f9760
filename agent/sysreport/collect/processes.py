"""Top processes by resident memory and by CPU over the sampling window.

    {"count": 213,
     "by_memory": [{"pid": 812, "user": "mysql", "name": "mysqld",
                    "cmdline": "/usr/sbin/mysqld --basedir=/usr ...", "rss": 412516352,
                    "memory_percent": 5.0, "cpu_percent": 1.2}],
     "by_cpu": [...]}

begin() reads every process's CPU times when the window opens; collect() reads them
again with the rest (one process_iter pass each), so per-process CPU costs no extra
sleep. Command lines are read only for the processes that make a top list.
Processes that vanish in between are skipped.
"""

from __future__ import annotations

import os
import pwd
import time
from typing import Any, Dict, List, Optional, Tuple

import psutil

from ._util import setting

CMDLINE_MAX = 80


def begin() -> Tuple[float, Dict[int, float]]:
    started = time.monotonic()
    before: Dict[int, float] = {}
    for p in psutil.process_iter(["cpu_times"]):
        ct = p.info["cpu_times"]
        if ct is not None:
            before[p.pid] = ct.user + ct.system
    return started, before


def shorten(text: str, limit: int = CMDLINE_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Users:
    """uid -> user name, one pwd lookup per uid (NSS can be slow)."""

    def __init__(self) -> None:
        self.cache: Dict[int, str] = {}

    def name(self, uid: int) -> str:
        if uid not in self.cache:
            try:
                self.cache[uid] = pwd.getpwuid(uid).pw_name
            except KeyError:
                self.cache[uid] = str(uid)
        return self.cache[uid]


def collect(config: Any, started: Tuple[float, Dict[int, float]],
            memory_total: Optional[int] = None) -> dict:
    top_n = int(setting(config, "report", "top_processes", 5))
    t0, before = started
    elapsed = max(time.monotonic() - t0, 1e-6)
    total = memory_total or psutil.virtual_memory().total
    users = _Users()
    me = os.getpid()
    rows: List[dict] = []
    procs: Dict[int, psutil.Process] = {}
    for p in psutil.process_iter(["name", "uids", "memory_info", "cpu_times"]):
        info = p.info
        mi = info["memory_info"]
        ct = info["cpu_times"]
        rss = int(mi.rss) if mi is not None else 0
        cpu_pct = 0.0
        if ct is not None:
            # A pid missing from the first sample started inside the window.
            spent = ct.user + ct.system - before.get(p.pid, 0.0)
            cpu_pct = round(max(0.0, spent / elapsed * 100.0), 1)
        uids = info["uids"]
        rows.append({"pid": p.pid, "user": users.name(uids.real) if uids is not None else "",
                     "name": info["name"] or "", "cmdline": "", "rss": rss,
                     "memory_percent": round(rss / total * 100.0, 1) if total else 0.0,
                     "cpu_percent": cpu_pct})
        procs[p.pid] = p
    by_memory = sorted(rows, key=lambda r: (-r["rss"], r["pid"]))
    # Our own collection is busy during the window: leave it out of the CPU list,
    # as well as processes that used no CPU at all (an idle list is noise).
    by_cpu = sorted((r for r in rows if r["cpu_percent"] > 0 and r["pid"] != me),
                    key=lambda r: (-r["cpu_percent"], -r["rss"]))
    vanished = set()
    picked_memory: List[dict] = []
    picked_cpu: List[dict] = []
    for source, picked in ((by_memory, picked_memory), (by_cpu, picked_cpu)):
        for row in source:
            if len(picked) >= top_n:
                break
            if row["pid"] in vanished:
                continue
            if not row["cmdline"]:
                try:
                    args = procs[row["pid"]].cmdline()
                except psutil.NoSuchProcess:
                    vanished.add(row["pid"])
                    continue
                except psutil.AccessDenied:
                    args = []
                # Kernel threads have no command line: show the name in brackets, like ps.
                row["cmdline"] = shorten(" ".join(args)) if args else f"[{row['name']}]"
            picked.append(row)
    return {"count": len(rows),
            "by_memory": [dict(r) for r in picked_memory],
            "by_cpu": [dict(r) for r in picked_cpu]}
