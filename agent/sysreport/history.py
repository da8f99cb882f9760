"""Remember past reports and find trends: deltas, days until full, growing processes.

    past   = load(state_dir)                 # compact snapshots, oldest first
    trends = analyse(facts, past, config)    # the "trends" part of the report
    save(facts, config)                      # append this report's snapshot, prune

The state directory holds history/<YYYYmmddTHHMMSSZ>.json, one compact snapshot per
sent report (only what trends need, a few hundred bytes), the newest
config.state.history_keep kept. Writes are atomic (temp file, fsync, rename); a corrupt
or foreign file is skipped with a warning, never a crash.

Snapshot format (version 1):
    {"v": 1, "time": 1796302804.0, "boot_time": 1795100000.0,
     "memory_percent": 35.0, "swap_percent": 0.0, "load": [0.5, 0.4, 0.3],
     "mounts": {"/": [used, total, free]},
     "processes": [["mysqld", "mysql", 412516352]],
     "failed_units": ["nginx.service"]}
A value is null where its section was not available.
"""

from __future__ import annotations

import json
import os

from .atomic import write_atomic
from .collect._util import field, setting
from .log import get_logger
from .units import epoch_to_iso, iso_to_epoch

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any, Dict, List, Optional, Tuple

log = get_logger(__name__)

SNAPSHOT_VERSION = 1
SUBDIR = "history"
DAY = 86400.0
MIB = 1024 * 1024

# Forecasts: least squares over this many days, at least this many points spanning this long.
FORECAST_DAYS = 14
FORECAST_MIN_POINTS = 3
FORECAST_MIN_SPAN = DAY
# Growing processes: present in at least this many consecutive reports (the current one
# included), RSS rising every time, by at least this fraction and this many bytes overall.
GROWTH_MIN_REPORTS = 3
GROWTH_MIN_RATIO = 0.20
GROWTH_MIN_BYTES = 50 * MIB
# "Over a week": the snapshot nearest 7 days ago, if one lies within 6 to 8 days ago.
WEEK = 7 * DAY
WEEK_TOLERANCE = DAY
# A boot time that moved by more than this is a reboot (boot_time jitters under NTP).
REBOOT_TOLERANCE = 60.0


def history_dir(state_dir: str) -> str:
    return os.path.join(state_dir, SUBDIR)


# --------------------------------------------------------------------------- snapshots

def _epoch(value: Any) -> Optional[float]:
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return iso_to_epoch(value)
    except (TypeError, ValueError):
        return None


def snapshot(facts: Dict[str, Any]) -> Dict[str, Any]:
    """The compact record of one report that trends need (see the module docstring)."""
    host = facts.get("host") or {}
    memory = facts.get("memory")
    swap = facts.get("swap")
    load = facts.get("load")
    filesystems = facts.get("filesystems")
    processes = facts.get("processes")
    systemd = facts.get("systemd")
    procs: Dict[Tuple[str, str], int] = {}
    if processes:
        for row in (processes.get("by_memory") or []) + (processes.get("by_cpu") or []):
            key = (str(row.get("name", "")), str(row.get("user", "")))
            # Several workers with one name and user: follow the biggest.
            procs[key] = max(procs.get(key, 0), int(row.get("rss") or 0))
    return {
        "v": SNAPSHOT_VERSION,
        "time": _epoch(facts.get("generated_at")),
        "boot_time": _epoch(host.get("boot_time")),
        "memory_percent": memory.get("percent") if memory else None,
        "swap_percent": swap.get("percent") if swap else None,
        "load": [load.get("load1"), load.get("load5"), load.get("load15")] if load else None,
        "mounts": ({fs["mount"]: [fs["used"], fs["total"], fs.get("free", fs["total"] - fs["used"])]
                    for fs in filesystems} if filesystems is not None else None),
        "processes": [[n, u, r] for (n, u), r in sorted(procs.items())] if processes else None,
        "failed_units": ([u.get("unit", "") for u in systemd.get("failed_units") or []]
                         if systemd else None),
    }


def _valid(snap: Any) -> bool:
    if not isinstance(snap, dict) or snap.get("v") != SNAPSHOT_VERSION:
        return False
    if not isinstance(snap.get("time"), (int, float)):
        return False
    mounts = snap.get("mounts")
    if mounts is not None and not (isinstance(mounts, dict) and all(
            isinstance(v, list) and len(v) >= 2 and all(isinstance(x, (int, float)) for x in v)
            for v in mounts.values())):
        return False
    procs = snap.get("processes")
    if procs is not None and not (isinstance(procs, list) and all(
            isinstance(p, list) and len(p) == 3 and isinstance(p[2], (int, float)) for p in procs)):
        return False
    units = snap.get("failed_units")
    if units is not None and not isinstance(units, list):
        return False
    load = snap.get("load")
    if load is not None and not (isinstance(load, list) and len(load) == 3):
        return False
    for key in ("boot_time", "memory_percent", "swap_percent"):
        if snap.get(key) is not None and not isinstance(snap.get(key), (int, float)):
            return False
    return True


def _file_name(t: float) -> str:
    return epoch_to_iso(t)[:19].replace("-", "").replace(":", "") + "Z.json"


def _is_ours(name: str) -> bool:
    # 20261203T130004Z.json, or 20261203T130004Z-1.json for a second report in that second
    return (len(name) >= 21 and name[:8].isdigit() and name[8] == "T" and name[9:15].isdigit()
            and name[15] == "Z" and name.endswith(".json"))


def load(state_dir: str) -> List[Dict[str, Any]]:
    """The snapshots under <state_dir>/history, oldest first.

    A missing directory is an empty history; an unreadable, corrupt or foreign file
    is skipped with a warning.
    """
    directory = history_dir(state_dir)
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("history %s cannot be read (%s); trends left out", directory, exc.strerror or exc)
        return []
    out = []
    for name in names:
        if name.startswith("."):
            continue  # a temporary file of a write in progress (or one that crashed)
        path = os.path.join(directory, name)
        if not _is_ours(name):
            log.warning("history: skipping %s: not a sysreport snapshot", path)
            continue
        try:
            with open(path, "rb") as f:
                snap = json.loads(f.read(1024 * 1024).decode("utf-8"))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            log.warning("history: skipping %s: %s", path, exc)
            continue
        if not _valid(snap):
            log.warning("history: skipping %s: not a version %d snapshot", path, SNAPSHOT_VERSION)
            continue
        out.append(snap)
    out.sort(key=lambda s: s["time"])
    return out


def save(facts: Dict[str, Any], config: Any) -> str:
    """Append this report's snapshot to the history and prune to state.history_keep.

    Returns the path written. Raises OSError when the directory cannot be written.
    """
    state_dir = setting(config, "state", "directory", "/var/lib/sysreport")
    keep = int(setting(config, "state", "history_keep", 90))
    directory = history_dir(state_dir)
    os.makedirs(directory, mode=0o750, exist_ok=True)
    snap = snapshot(facts)
    if snap["time"] is None:
        raise ValueError("facts have no valid generated_at")
    base = _file_name(snap["time"])
    name, n = base, 0
    while os.path.exists(os.path.join(directory, name)):
        n += 1
        name = base[:-5] + f"-{n}.json"
    path = write_atomic(directory, name, json.dumps(snap, separators=(",", ":")).encode("utf-8"))
    prune(directory, keep)
    return path


def prune(directory: str, keep: int) -> List[str]:
    """Delete our oldest snapshot files beyond `keep` (foreign files are left alone)."""
    ours = sorted(n for n in os.listdir(directory) if _is_ours(n))
    doomed = ours[: max(0, len(ours) - keep)]
    for name in doomed:
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    return doomed


# --------------------------------------------------------------------------- analysis

def _delta(now: Any, then: Any, digits: int = 1) -> Optional[float]:
    if isinstance(now, (int, float)) and isinstance(then, (int, float)):
        return round(now - then, digits)
    return None


def changes(current: Dict[str, Any], before: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """What changed between two snapshots; None without an earlier one.

    {"at": iso, "hours": 24.0, "memory_percent": +3.1, "swap_percent": 0.0,
     "load1": ..., "load5": ..., "load15": ...,
     "mounts": {"/": {"used": +1073741824, "percent": +1.0}}}
    """
    if before is None:
        return None
    out: Dict[str, Any] = {
        "at": epoch_to_iso(before["time"]),
        "hours": round((current["time"] - before["time"]) / 3600.0, 1),
        "memory_percent": _delta(current.get("memory_percent"), before.get("memory_percent")),
        "swap_percent": _delta(current.get("swap_percent"), before.get("swap_percent")),
    }
    now_load, old_load = current.get("load") or [None] * 3, before.get("load") or [None] * 3
    for i, name in enumerate(("load1", "load5", "load15")):
        out[name] = _delta(now_load[i], old_load[i], 2)
    mounts = {}
    old_mounts = before.get("mounts") or {}
    for mount, values in sorted((current.get("mounts") or {}).items()):
        if mount not in old_mounts:
            continue
        used, total = values[0], values[1]
        old_used, old_total = old_mounts[mount][0], old_mounts[mount][1]
        pct = used / total * 100.0 if total else 0.0
        old_pct = old_used / old_total * 100.0 if old_total else 0.0
        mounts[mount] = {"used": int(used - old_used), "percent": round(pct - old_pct, 1)}
    out["mounts"] = mounts
    return out


def week_ago(snaps: List[Dict[str, Any]], now: float) -> Optional[Dict[str, Any]]:
    """The snapshot nearest 7 days before `now`, if one lies within a day of it."""
    best = None
    for snap in snaps:
        off = abs((now - snap["time"]) - WEEK)
        if off <= WEEK_TOLERANCE and (best is None or off < best[0]):
            best = (off, snap)
    return best[1] if best else None


def slope(points: List[Tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def forecast(mount: str, snaps: List[Dict[str, Any]], warn_days: float) -> Optional[Dict[str, Any]]:
    """Days until `mount` is full from the used-bytes trend of the last FORECAST_DAYS.

    `snaps` ends with the current snapshot. None when there are fewer than
    FORECAST_MIN_POINTS points or they span less than a day; days_until_full is None
    when usage is not growing.
    """
    now = snaps[-1]["time"]
    points = []
    for snap in snaps:
        values = (snap.get("mounts") or {}).get(mount)
        if values is not None and now - snap["time"] <= FORECAST_DAYS * DAY:
            points.append((snap["time"], float(values[0])))
    if len(points) < FORECAST_MIN_POINTS or points[-1][0] - points[0][0] < FORECAST_MIN_SPAN:
        return None
    per_day = slope(points) * DAY
    current = snaps[-1]["mounts"][mount]
    free = current[2] if len(current) > 2 else current[1] - current[0]
    days = None
    if per_day > 0:
        days = round(max(0.0, free) / per_day, 1)
    return {"mount": mount, "days_until_full": days, "bytes_per_day": round(per_day, 1),
            "near": days is not None and days <= warn_days}


def growing_processes(snaps: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Processes (name + user) whose RSS rose at every one of the last >= 3 reports.

    `snaps` ends with the current snapshot. The run is counted back from the current
    report while the process is present and its RSS strictly rises.
    """
    tables = []
    for snap in snaps:
        procs = snap.get("processes")
        tables.append(None if procs is None else {(p[0], p[1]): p[2] for p in procs})
    if not tables or tables[-1] is None:
        return []
    out = []
    for key, last in sorted(tables[-1].items()):
        run = [last]
        for table in reversed(tables[:-1]):
            if table is None or key not in table or not table[key] < run[-1]:
                break
            run.append(table[key])
        first = run[-1]
        rise = last - first
        if (len(run) >= GROWTH_MIN_REPORTS and rise >= GROWTH_MIN_BYTES
                and rise >= GROWTH_MIN_RATIO * first):
            out.append({"name": key[0], "user": key[1], "rss_first": int(first),
                        "rss_last": int(last), "reports": len(run)})
    out.sort(key=lambda g: g["rss_first"] - g["rss_last"])
    return out


def _warn_days(config: Any, mount: str) -> float:
    base = setting(config, "thresholds", "days_until_full", None)
    mounts = setting(config, "thresholds", "mounts", None) or {}
    override = mounts.get(mount) if hasattr(mounts, "get") else None
    limits = field(override, "days_until_full", None) or base
    return float(field(limits, "warn", 14))


def analyse(facts: Dict[str, Any], past: List[Dict[str, Any]], config: Any) -> Dict[str, Any]:
    """The report's "trends": changes since the previous report and over a week,
    forecasts, growing processes, a reboot and newly failed units."""
    current = snapshot(facts)
    # Snapshots from the "future" (the clock went back) would turn every delta around.
    past = [s for s in past if current["time"] is None or s["time"] <= current["time"]]
    previous = past[-1] if past else None
    trends: Dict[str, Any] = {
        "previous_at": epoch_to_iso(previous["time"]) if previous else None,
        "reports_kept": len(past),
        "changes": {"since_previous": None, "since_week": None},
        "forecasts": [],
        "growing_processes": [],
        "rebooted_since_previous": False,
        "new_failed_units": [],
    }
    if current["time"] is None or previous is None:
        return trends
    trends["changes"]["since_previous"] = changes(current, previous)
    trends["changes"]["since_week"] = changes(current, week_ago(past, current["time"]))
    series = past + [current]
    for mount in sorted(current.get("mounts") or {}):
        entry = forecast(mount, series, _warn_days(config, mount))
        if entry is not None:
            trends["forecasts"].append(entry)
    trends["growing_processes"] = growing_processes(series)
    if current.get("boot_time") is not None and previous.get("boot_time") is not None:
        trends["rebooted_since_previous"] = (
            abs(current["boot_time"] - previous["boot_time"]) > REBOOT_TOLERANCE)
    if current.get("failed_units") is not None and previous.get("failed_units") is not None:
        before = set(previous["failed_units"])
        trends["new_failed_units"] = [u for u in current["failed_units"] if u not in before]
    return trends
