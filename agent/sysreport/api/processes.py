"""The process table behind GET /processes: fast, and with CPU figures that mean something.

    >>> table = ProcessTable(); table.scan(); time.sleep(1)
    >>> table.listing(sort="cpu", limit=1)["processes"]
    [{'pid': 812, 'user': 'postgres', 'name': 'postgres', 'rss': 48279552,
      'memory_percent': 0.6, 'cpu_percent': 12.3}]

A single cpu_percent() reading of a process is meaningless (psutil returns 0.0 the first
time): CPU use only exists between two readings. So the table keeps one psutil.Process
per running process, keyed by pid and start time (a reused pid is a new process), with
its CPU time at the previous scan. A figure is the CPU time used since then divided by
the wall time since then (100 = one whole core, like top); a process started since the
previous scan is measured over its own life. The scan at server start is the first
reading, and no response is made of a first reading alone, so every response has a
window (cpu_window_seconds says how long it was).

Scans are shared: a request takes the last scan when it is younger than `max_age`
seconds (and waits for one under way instead of starting another), so a burst of
requests costs one pass over /proc and every CPU window is at least that long.
Plain dicts and lists all the way: no model validation per row.
"""

from __future__ import annotations

import os
import pwd
import threading
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

import psutil

SORTS = ("memory", "rss", "cpu", "pid", "name")
DEFAULT_LIMIT = 50
MAX_LIMIT = 10000
# Requests closer together than this share one scan; it is also the shortest CPU window.
DEFAULT_MAX_AGE = 1.0

CPU_BASIS = ("CPU time used between the previous scan and this one, divided by the wall "
             "time between them (cpu_window_seconds); 100 = one whole core; a process "
             "started in between is measured since its start")

_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)

# Sort orders; ties broken by pid so the order is stable between requests.
_ORDER = {
    "memory": lambda r: (-r["rss"], r["pid"]),
    "rss": lambda r: (-r["rss"], r["pid"]),
    "cpu": lambda r: (-(r["cpu_percent"] or 0.0), -r["rss"], r["pid"]),
    "pid": lambda r: r["pid"],
    "name": lambda r: (r["name"].lower(), r["pid"]),
}

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _started(proc: psutil.Process) -> float:
    """Seconds from boot to the process's start, read now: the identity that tells a
    reused pid from the process the table knew.

    psutil's create_time() cannot do this: it answers from the value cached when the
    Process object was made (and reads /proc/stat again for the boot time each call).
    The start field of /proc/<pid>/stat is what it is computed from; inside oneshot()
    psutil has already parsed that file for cpu_times(), so this costs nothing. If a
    future psutil moves that parser, fall back to a fresh Process (one more read)."""
    try:
        return int(proc._proc._parse_stat_file()["create_time"]) / _CLOCK_TICKS  # noqa: SLF001
    except (AttributeError, KeyError, TypeError, ValueError):
        return psutil.Process(proc.pid).create_time() - psutil.boot_time()


class _Seen:
    """What the table remembers about one process between scans."""

    __slots__ = ("proc", "started", "cpu", "at")

    def __init__(self, proc: psutil.Process, started: float, cpu: float, at: float):
        self.proc = proc
        self.started = started  # seconds after boot (see _started)
        self.cpu = cpu      # user + system seconds at the last scan
        self.at = at        # time.monotonic() of the last scan


class ProcessTable:
    def __init__(self, show_cmdline: bool = False, max_age: float = DEFAULT_MAX_AGE):
        self.show_cmdline = show_cmdline
        self.max_age = max_age
        self._seen: Dict[int, _Seen] = {}
        self._users: Dict[int, str] = {}
        self._lock = threading.Lock()
        self._rows: List[Dict[str, Any]] = []
        self._scanned_at = 0.0            # monotonic; 0 = never
        self._collected_at = ""
        self._window: Optional[float] = None
        self._skipped = 0

    # ----------------------------------------------------------------- reading /proc

    def _user(self, uid: int) -> str:
        name = self._users.get(uid)
        if name is None:
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                name = str(uid)
            self._users[uid] = name
        return name

    def scan(self) -> None:
        """One pass over all processes. Callers hold self._lock (or are alone)."""
        now = time.monotonic()
        wall = time.time()
        uptime = wall - psutil.boot_time()
        total = psutil.virtual_memory().total or 1
        previous = self._seen
        seen: Dict[int, _Seen] = {}
        rows: List[Dict[str, Any]] = []
        skipped = 0
        window = (now - self._scanned_at) if self._scanned_at else None
        for pid in psutil.pids():
            entry = previous.get(pid)
            try:
                proc = psutil.Process(pid) if entry is None else entry.proc
                with proc.oneshot():
                    started = _started(proc)
                    if entry is not None and abs(entry.started - started) > 0.5 / _CLOCK_TICKS:
                        # The pid was reused: a new process, a new object.
                        entry = None
                        proc = psutil.Process(pid)
                        with proc.oneshot():
                            started = _started(proc)
                            cpu, rss, uid, name, cmdline = self._read(proc)
                    else:
                        cpu, rss, uid, name, cmdline = self._read(proc)
            except _GONE:
                # It exited (or became a zombie, or hid itself) while we read it: it is
                # simply not in this listing, and counted in "skipped".
                skipped += 1
                continue
            if entry is not None:
                elapsed = now - entry.at
                used = cpu - entry.cpu
            elif window is not None:
                # New since the last scan: measured over its own life.
                elapsed = max(uptime - started, 0.0)
                used = cpu
            else:
                elapsed = used = 0.0                       # first scan: no reading yet
            if window is None or elapsed <= 0:
                cpu_percent = None
            else:
                cpu_percent = round(max(used, 0.0) / elapsed * 100.0, 1)
            row = {"pid": pid, "user": self._user(uid), "name": name, "rss": rss,
                   "memory_percent": round(rss / total * 100.0, 2),
                   "cpu_percent": cpu_percent}
            if cmdline is not None:
                row["cmdline"] = cmdline
            rows.append(row)
            seen[pid] = _Seen(proc, started, cpu, now)
        self._seen = seen
        self._rows = rows
        self._scanned_at = now
        self._collected_at = datetime.fromtimestamp(wall, timezone.utc).isoformat(
            timespec="seconds")
        self._window = None if window is None else round(window, 3)
        self._skipped = skipped

    def _read(self, proc: psutil.Process) -> Tuple[float, int, int, str, Optional[str]]:
        """CPU seconds, RSS, real uid, name, command line (or None): inside oneshot(),
        from /proc/<pid>/stat, statm and status (and cmdline when asked)."""
        times = proc.cpu_times()
        cmdline = " ".join(proc.cmdline()) if self.show_cmdline else None
        return (times.user + times.system, proc.memory_info().rss, proc.uids().real,
                proc.name(), cmdline)

    def _fresh(self) -> Tuple[List[Dict[str, Any]], str, Optional[float], int]:
        with self._lock:
            # A scan is shared while it is younger than max_age, except the very first:
            # it has nothing to measure CPU against, so no response is made of it. The
            # second waits until the first is max_age old: a request just after start-up
            # gets a CPU window as long as any other, not a few milliseconds of noise.
            age = time.monotonic() - self._scanned_at
            if self._window is None:
                if age < self.max_age:
                    time.sleep(self.max_age - age)
                self.scan()
            elif age >= self.max_age:
                self.scan()
            return self._rows, self._collected_at, self._window, self._skipped

    # ----------------------------------------------------------------- the listing

    def listing(self, sort: str = "memory", limit: int = DEFAULT_LIMIT,
                user: Optional[str] = None) -> Dict[str, Any]:
        if sort not in SORTS:
            raise ValueError("sort must be one of %s" % ", ".join(SORTS))
        rows, collected_at, window, skipped = self._fresh()
        matched = [r for r in rows if r["user"] == user] if user is not None else rows
        top = sorted(matched, key=_ORDER[sort])[:limit]
        return {
            "collected_at": collected_at,
            "total": len(rows),
            "matched": len(matched),
            "returned": len(top),
            "skipped": skipped,
            "sort": sort,
            "limit": limit,
            "user": user,
            "cpu_window_seconds": window,
            "cpu_percent_basis": CPU_BASIS if window is not None else
            "no reading yet: the first scan has nothing to compare with",
            "cmdline_included": self.show_cmdline,
            "processes": top,
        }
