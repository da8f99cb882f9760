"""Thresholds -> overall status and a list of problems, worst first.

    verdict = judge(facts, trends, config)
    {"status": "CRIT",
     "problems": [{"severity": "CRIT", "section": "filesystems", "subject": "/",
                   "message": "/ 97% full"}, ...]}

Every "message" is short enough for a mail subject. A section that could not be
collected (None) is not judged: the report lists it as not available instead.
"""

from __future__ import annotations


from .collect._util import field, setting
from .units import duration

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any, Dict, List, Optional

OK, WARN, CRIT = "OK", "WARN", "CRIT"
_RANK = {OK: 0, WARN: 1, CRIT: 2}

# Built-in limits, used where a config lacks a key (they match config.py's defaults).
DEFAULTS = {
    "cpu_percent": {"warn": 90, "crit": 98},
    "load_per_core": {"warn": 2.0, "crit": 4.0},
    "memory_percent": {"warn": 85, "crit": 95},
    "swap_percent": {"warn": 50, "crit": 80},
    "disk_percent": {"warn": 80, "crit": 90},
    "inode_percent": {"warn": 80, "crit": 90},
    "days_until_full": {"warn": 14, "crit": 3},
    "temperature_celsius": {"warn": 80, "crit": 90},
}


def worst(statuses: List[str]) -> str:
    """The worst of some statuses ("OK" for none)."""
    return max(statuses, key=lambda s: _RANK.get(s, 0), default=OK)


def limits(config: Any, name: str, mount: Optional[str] = None) -> tuple:
    """(warn, crit) for a threshold, the mount point's override first."""
    chosen = None
    if mount is not None:
        mounts = setting(config, "thresholds", "mounts", None) or {}
        override = mounts.get(mount) if hasattr(mounts, "get") else None
        chosen = field(override, name, None)
    if chosen is None:
        chosen = setting(config, "thresholds", name, None)
    default = DEFAULTS[name]
    return (float(field(chosen, "warn", default["warn"])),
            float(field(chosen, "crit", default["crit"])))


def level(value: Optional[float], warn: float, crit: float, lower_is_worse: bool = False) -> str:
    """OK, WARN or CRIT for one value (at or beyond a limit counts)."""
    if value is None:
        return OK
    if lower_is_worse:
        return CRIT if value <= crit else WARN if value <= warn else OK
    return CRIT if value >= crit else WARN if value >= warn else OK


def _pct(value: float) -> str:
    return f"{value:.0f}%"


def judge(facts: Dict[str, Any], trends: Optional[Dict[str, Any]], config: Any) -> Dict[str, Any]:
    """Overall status and the problems, CRIT before WARN (then in the order below)."""
    problems: List[Dict[str, str]] = []

    def add(severity: str, section: str, subject: str, message: str) -> None:
        if severity != OK:
            problems.append({"severity": severity, "section": section, "subject": subject,
                             "message": message})

    for fs in facts.get("filesystems") or []:
        mount = fs.get("mount", "?")
        warn, crit = limits(config, "disk_percent", mount)
        add(level(fs.get("percent"), warn, crit), "filesystems", mount,
            f"{mount} {_pct(fs['percent'])} full" if fs.get("percent") is not None else "")
        warn, crit = limits(config, "inode_percent", mount)
        if fs.get("inodes_percent") is not None:
            add(level(fs["inodes_percent"], warn, crit), "filesystems", mount,
                f"{mount} inodes {_pct(fs['inodes_percent'])}")

    for fc in (trends or {}).get("forecasts") or []:
        days = fc.get("days_until_full")
        if days is None:
            continue
        mount = fc.get("mount", "?")
        warn, crit = limits(config, "days_until_full", mount)
        shown = f"{days:.0f} day" if round(days) == 1 else f"{days:.0f} days"
        add(level(days, warn, crit, lower_is_worse=True), "filesystems", mount,
            f"{mount} full in ~{shown}" if days >= 0.5 else f"{mount} full within a day")

    systemd = facts.get("systemd")
    failed = (systemd or {}).get("failed_units") or []
    policy = str(setting(config, "thresholds", "failed_units", "crit") or "crit").upper()
    if failed and policy in (WARN, CRIT):
        names = [u.get("unit", "?") for u in failed]
        add(policy, "systemd", ", ".join(names),
            f"{names[0]} failed" if len(names) == 1 else f"{len(names)} failed units")

    memory = facts.get("memory")
    if memory:
        add(level(memory.get("percent"), *limits(config, "memory_percent")), "memory", "memory",
            f"memory {_pct(memory['percent'])}")
    swap = facts.get("swap")
    if swap and swap.get("total"):
        add(level(swap.get("percent"), *limits(config, "swap_percent")), "swap", "swap",
            f"swap {_pct(swap['percent'])}")
    cpu = facts.get("cpu")
    if cpu:
        add(level(cpu.get("percent"), *limits(config, "cpu_percent")), "cpu", "cpu",
            f"cpu {_pct(cpu['percent'])}")
    load = facts.get("load")
    if load:
        add(level(load.get("per_core15"), *limits(config, "load_per_core")), "load", "load",
            f"load {load['per_core15']:.1f}/core")

    for t in facts.get("temperatures") or []:
        warn, crit = limits(config, "temperature_celsius")
        name = t.get("label") or t.get("sensor") or "sensor"
        add(level(t.get("current"), warn, crit), "temperatures", name,
            f"{name} {t['current']:.0f}°C")

    host = facts.get("host")
    hours = float(setting(config, "thresholds", "recent_reboot_hours", 24) or 0)
    if host and hours > 0 and host.get("uptime_seconds") is not None:
        if host["uptime_seconds"] < hours * 3600:
            add(WARN, "host", "reboot", f"rebooted {duration(host['uptime_seconds'])} ago")

    problems.sort(key=lambda p: -_RANK[p["severity"]])  # stable: keeps the order above
    return {"status": worst([p["severity"] for p in problems]), "problems": problems}
