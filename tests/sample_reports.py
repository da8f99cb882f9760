"""Synthetic report documents for tests (render, digest, module, API).

    from sample_reports import make_report, make_facts, make_config
    doc = make_report("web-01", status="CRIT")      # a whole, valid document
    doc = make_report(disk_percent={"/": 97.0}, failed_units=["nginx.service"])
    cfg = make_config({"thresholds": {"mounts": {"/var": {"disk_percent": {"warn": 90, "crit": 95}}}}})

Documents follow the schema in agent/README.md (schema_version 1); verdicts come from the real
sysreport.judge with the given config, so status and problems are consistent.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterable, List, Optional, Sequence

from sysreport import config as sysconfig
from sysreport import judge
from sysreport.units import epoch_to_iso, iso_to_epoch

GENERATED_AT = "2026-12-03T13:00:04+00:00"
GIB = 1024 ** 3
MIB = 1024 ** 2


def make_config(data: Optional[Dict[str, Any]] = None) -> Any:
    """A validated Config from a dict shaped like the TOML file ({} = the defaults)."""
    data = copy.deepcopy(data or {})
    problems = sysconfig.validate(data, "<test>")
    if problems:
        raise ValueError("\n".join(problems))
    return sysconfig._build(data, path=None)  # the loader's own constructor, minus the file


def empty_trends(previous_at: Optional[str] = None) -> Dict[str, Any]:
    return {"previous_at": previous_at, "reports_kept": 0,
            "changes": {"since_previous": None, "since_week": None},
            "forecasts": [], "growing_processes": [], "rebooted_since_previous": False,
            "new_failed_units": []}


def filesystem(mount: str, percent: float, total: int = 100 * GIB, device: str = "",
               fstype: str = "ext4", inodes_percent: Optional[float] = 5.0) -> Dict[str, Any]:
    used = int(total * percent / 100)
    inodes_total = 6_553_600 if inodes_percent is not None else None
    return {"mount": mount, "device": device or f"/dev/sd{'abcdefgh'[len(mount) % 8]}1",
            "fstype": fstype, "total": total, "used": used, "free": total - used,
            "percent": float(percent), "inodes_total": inodes_total,
            "inodes_used": int(inodes_total * inodes_percent / 100) if inodes_total else None,
            "inodes_percent": inodes_percent}


def process(pid: int, name: str, rss: int, user: str = "root", cpu: float = 0.0,
            cmdline: Optional[str] = None, memory_total: int = 8 * GIB) -> Dict[str, Any]:
    return {"pid": pid, "user": user, "name": name,
            "cmdline": cmdline if cmdline is not None else f"/usr/sbin/{name} --daemon",
            "rss": rss, "memory_percent": round(rss / memory_total * 100, 1), "cpu_percent": cpu}


def make_facts(hostname: str = "web-01", *,
               generated_at: str = GENERATED_AT,
               disk_percent: Optional[Dict[str, float]] = None,
               filesystems: Optional[List[Dict[str, Any]]] = None,
               memory_percent: float = 30.0, swap_percent: float = 0.0,
               cpu_percent: float = 5.0, load_per_core: float = 0.1, logical: int = 4,
               uptime_seconds: int = 30 * 86400,
               failed_units: Sequence[str] = (),
               processes: Optional[List[Dict[str, Any]]] = None,
               temperatures: Optional[List[Dict[str, Any]]] = None,
               unavailable: Iterable[str] = ()) -> Dict[str, Any]:
    """Facts (no trends, no verdict) of a plausible Debian host.

    unavailable: section names to mark "not available" (their value becomes None).
    """
    now = iso_to_epoch(generated_at)
    mem_total = 8 * GIB
    mem_used = int(mem_total * memory_percent / 100)
    swap_total = 2 * GIB
    swap_used = int(swap_total * swap_percent / 100)
    if filesystems is None:
        filesystems = [filesystem(m, p) for m, p in
                       sorted((disk_percent or {"/": 40.0, "/var": 55.0}).items())]
    if processes is None:
        processes = [process(812, "mysqld", 900 * MIB, "mysql", 1.5),
                     process(1201, "java", 700 * MIB, "app", 12.0),
                     process(640, "nginx", 40 * MIB, "www-data", 0.3)]
    load = load_per_core * logical
    facts: Dict[str, Any] = {
        "schema_version": 1,
        "generated_at": generated_at,
        "agent": {"version": "0.1.0"},
        "host": {"hostname": hostname, "fqdn": f"{hostname}.example.com",
                 "os": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0-28-amd64",
                 "boot_time": epoch_to_iso(now - uptime_seconds),
                 "uptime_seconds": uptime_seconds},
        "cpu": {"logical": logical, "physical": logical // 2 or 1, "percent": float(cpu_percent),
                "per_cpu": [float(cpu_percent)] * logical, "sample_seconds": 0.1},
        "load": {"load1": round(load, 2), "load5": round(load, 2), "load15": round(load, 2),
                 "per_core1": load_per_core, "per_core5": load_per_core,
                 "per_core15": load_per_core},
        "memory": {"total": mem_total, "available": mem_total - mem_used, "used": mem_used,
                   "percent": float(memory_percent)},
        "swap": {"total": swap_total, "used": swap_used, "free": swap_total - swap_used,
                 "percent": float(swap_percent)},
        "filesystems": filesystems,
        "network": [{"interface": "eth0", "bytes_sent": 5 * GIB, "bytes_recv": 9 * GIB,
                     "packets_sent": 4_000_000, "packets_recv": 7_000_000, "errin": 0,
                     "errout": 0, "dropin": 3, "dropout": 0}],
        "processes": {"count": 142,
                      "by_memory": sorted(processes, key=lambda p: -p["rss"]),
                      "by_cpu": sorted((p for p in processes if p["cpu_percent"] > 0),
                                       key=lambda p: -p["cpu_percent"])},
        "systemd": {"failed_units": [{"unit": u, "description": f"The {u.split('.')[0]} unit",
                                      "active": "failed", "sub": "failed"}
                                     for u in failed_units]},
        "users": [{"name": "alice", "terminal": "pts/0", "host": "192.0.2.10",
                   "started": epoch_to_iso(now - 3600)}],
        "temperatures": temperatures,
        "unavailable": {},
    }
    if temperatures is None:
        facts["unavailable"]["temperatures"] = "not available: no sensors reported"
    for section in unavailable:
        facts[section] = None
        facts["unavailable"][section] = f"not available: {section} failed in a test"
    return facts


def finish(facts: Dict[str, Any], trends: Optional[Dict[str, Any]] = None,
           config: Any = None) -> Dict[str, Any]:
    """facts + trends + the real verdict -> a whole document."""
    trends = trends if trends is not None else empty_trends()
    verdict = judge.judge(facts, trends, config if config is not None else make_config())
    doc = dict(facts)
    doc["trends"] = trends
    doc["status"] = verdict["status"]
    doc["problems"] = verdict["problems"]
    return doc


# Knobs that give each status with the default thresholds.
STATUS_KNOBS: Dict[str, Dict[str, Any]] = {
    "OK": {},
    "WARN": {"memory_percent": 88.0},
    "CRIT": {"disk_percent": {"/": 97.0, "/var": 55.0},
             "failed_units": ["nginx.service", "backup.service"]},
}


def make_report(hostname: str = "web-01", status: Optional[str] = None,
                trends: Optional[Dict[str, Any]] = None, config: Any = None,
                **knobs: Any) -> Dict[str, Any]:
    """A whole report document. status="OK"/"WARN"/"CRIT" picks knobs giving that
    status (explicit knobs win); other knobs are make_facts() keywords."""
    chosen = dict(STATUS_KNOBS[status]) if status else {}
    chosen.update(knobs)
    doc = finish(make_facts(hostname, **chosen), trends, config)
    if status is not None:
        assert doc["status"] == status, (status, doc["problems"])
    return doc


def unreachable(message: str = "Failed to connect to the host via ssh") -> Dict[str, Any]:
    """A digest input entry for a host Ansible could not reach."""
    return {"unreachable": True, "message": message}
