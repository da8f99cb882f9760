"""The fleet digest as plain text: counts, one table row per host worst first, details.

    Fleet digest of 2026-12-03 13:00 UTC: 4 hosts
    1 UNREACHABLE, 1 CRIT, 1 WARN, 1 OK

    HOST          STATUS       CPU  MEM  LOAD  DISK       UP      PROBLEMS
    db1           UNREACHABLE    -    -     -  -          -       did not answer: ssh: ...
    web1          CRIT         12%  91%  0.20  / 97%      3d 2h   / 97% full; +1 more

Every host value goes through render.visible() (via fit/cut): a newline in a host
name prints as \\n and cannot break a row.
"""

from __future__ import annotations

import textwrap
from typing import Any, Callable, Dict, List, Tuple

from ..units import bytes2human, duration
from . import visible
from .text import cut, fit, pct, when

NAME_WIDTH = 24
DISK_WIDTH = 14
MISSING_NAMES = 20   # hosts named in the "did not answer" line


def _load(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


def _disk(fs: Any) -> str:
    if not fs:
        return "-"
    return f"{cut(fs.get('mount'), DISK_WIDTH - 5)} {pct(fs.get('percent'))}"


def problems_cell(row: Dict[str, Any], limit: int) -> str:
    """What the row's last column says: the first problems, or why the host is missing."""
    if row["status"] == "UNREACHABLE":
        return "did not answer: " + visible(row["message"])
    if row["status"] == "FAILED":
        return "module failed: " + visible(row["message"])
    problems = row["problems"]
    shown = "; ".join(visible(p.get("message")) for p in problems[:limit])
    if len(problems) > limit:
        shown += f"; +{len(problems) - limit} more"
    return shown


def _table(rows: List[Dict[str, Any]], limit: int) -> List[str]:
    width = min(NAME_WIDTH, max([4] + [len(visible(r["name"])) for r in rows]))
    lines = [f"{'HOST':<{width}}  {'STATUS':<11} {'CPU':>4} {'MEM':>4} {'LOAD':>5}  "
             f"{'DISK':<{DISK_WIDTH}} {'UP':<7} PROBLEMS"]
    for r in rows:
        lines.append(
            f"{fit(r['name'], width)}  {r['status']:<11} {pct(r['cpu_percent']):>4} "
            f"{pct(r['memory_percent']):>4} {_load(r['load_per_core']):>5}  "
            f"{_disk(r['disk']):<{DISK_WIDTH}} {duration(r['uptime_seconds']):<7} "
            f"{cut(problems_cell(r, limit), 120)}".rstrip())
    return lines


def _details(row: Dict[str, Any]) -> List[str]:
    name = visible(row["name"])
    hostname = visible(row["hostname"]) if row["hostname"] else ""
    title = name if not hostname or hostname == name else f"{name} ({hostname})"
    lines = ["", f"== {title}: {row['status']} =="]
    if row["report"] is None:
        lines.append("  " + problems_cell(row, 1))
        return lines
    report = row["report"]
    lines.append(f"  Report of {when(report.get('generated_at'))}")
    for p in row["problems"]:
        lines.append(f"  {visible(p.get('severity')):<5} {visible(p.get('message'))}")
    if not row["problems"]:
        lines.append("  No problems.")
    mem = report.get("memory") or {}
    swap = report.get("swap") or {}
    if mem:
        line = f"  Memory {pct(mem.get('percent'))} of {bytes2human(mem.get('total'))}"
        if swap.get("total"):
            line += f", swap {pct(swap.get('percent'))} of {bytes2human(swap.get('total'))}"
        lines.append(line)
    for fs in report.get("filesystems") or []:
        lines.append(f"  {fit(fs.get('mount'), 24)} {pct(fs.get('percent')):>4} of "
                     f"{bytes2human(fs.get('total'))}")
    units = (report.get("systemd") or {}).get("failed_units") or []
    if units:
        lines.append("  Failed units: " + ", ".join(visible(u.get("unit")) for u in units))
    top = ((report.get("processes") or {}).get("by_memory") or [])[:3]
    if top:
        lines.append("  Top memory: " + ", ".join(
            f"{cut(p.get('name'), 24)} {bytes2human(p.get('rss'))}" for p in top))
    for section, why in sorted((report.get("unavailable") or {}).items()):
        lines.append(f"  {visible(section)}: {visible(why)}")
    return lines


def unlisted_line(unlisted: List[Tuple[str, str]], show: Callable[[str], str]) -> str:
    """The hosts past the table's last row: 'Also not OK, past the table (3): a CRIT, ...'."""
    return (f"Also not OK, past the table ({len(unlisted)}): "
            + ", ".join(f"{show(name)} {status}" for name, status in unlisted))


def missing_names(digest: Dict[str, Any], limit: int = MISSING_NAMES) -> str:
    """'db1, db2' for the hosts that did not answer ('' when all did)."""
    missing = [visible(r["name"]) for r in digest["rows"] if r["status"] == "UNREACHABLE"]
    text = ", ".join(missing[:limit])
    if len(missing) > limit:
        text += f" and {len(missing) - limit} more"
    return text


def render(digest: Dict[str, Any], row_problems: int = 2) -> str:
    """The whole digest as text (no trailing spaces, ending with a newline)."""
    lines = [f"Fleet digest of {when(digest['generated_at'])}: {digest['total']} hosts",
             digest["summary"]]
    missing = missing_names(digest)
    if missing:
        lines.append(f"Did not answer: {missing}")
    lines.append("")
    lines.extend(_table(digest["listed"], row_problems))
    if digest["unlisted"]:
        lines.append("")
        lines.extend(textwrap.wrap(unlisted_line(digest["unlisted"], visible),
                                   width=78, break_on_hyphens=False))
    if digest["folded"]:
        lines.append("")
        lines.extend(textwrap.wrap(f"OK ({len(digest['folded'])}): "
                                   + ", ".join(visible(name) for name in digest["folded"]),
                                   width=78, break_on_hyphens=False))
    if digest["detailed"]:
        lines.extend(["", "DETAILS"])
        if digest["details_note"]:
            lines.append(digest["details_note"])
        for row in digest["detailed"]:
            lines.extend(_details(row))
    elif digest["details_note"]:
        lines.extend(["", digest["details_note"]])
    return "\n".join(line.rstrip() for line in lines) + "\n"
