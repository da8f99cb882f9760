"""The fleet digest as HTML for mail clients, in the style of render.html (inline styles,
tables, badges that carry the word as well as the colour): counts, one table row per host
worst first, a box naming the hosts that did not answer, then each host's details.

Every host value goes through render.html.e() (visible + escape).
"""

from __future__ import annotations

from html import escape
from typing import Any, Dict, List

from ..units import bytes2human, duration
from .digest_text import missing_names, problems_cell, unlisted_line
from .html import COLOURS, FONT, TH, badge, e, h2, mono, p, table
from .text import pct, when

ALERT = ("margin:8px 0;padding:8px 10px;border-left:4px solid #c62828;"
         "background:#fdecea;color:#1f2328;")
MUTED = "color:#57606a;font-size:12px;"
CELL = "padding:2px 6px;border-bottom:1px solid #eceef1;"


def _anchor(index: int) -> str:
    return f"host-{index}"


def _row(row: Dict[str, Any], anchor: str, limit: int) -> str:
    """One compact table row (a fleet has many: no per-cell style beyond padding)."""
    name = e(row["name"])
    if anchor:
        name = f'<a href="#{anchor}" style="color:#1f2328;">{name}</a>'
    fs = row["disk"]
    disk = "-" if not fs else f'{e(fs.get("mount"))} {escape(pct(fs.get("percent")))}'
    load = row["load_per_core"]
    colour = COLOURS.get(row["status"], COLOURS["UNKNOWN"])
    cells = [name, f'<b style="color:{colour};">{escape(row["status"])}</b>',
             escape(pct(row["cpu_percent"])), escape(pct(row["memory_percent"])),
             escape("-" if load is None else f"{load:.2f}"), disk,
             escape(duration(row["uptime_seconds"])), e(problems_cell(row, limit))]
    return "<tr>" + "".join(f'<td style="{CELL}">{c}</td>' for c in cells) + "</tr>"


def _hosts_table(rows: List[Dict[str, Any]], anchors: Dict[int, str], limit: int) -> str:
    head = "".join(f'<th style="{TH}">{h}</th>'
                   for h in ("Host", "Status", "CPU", "Mem", "Load", "Disk", "Up", "Problems"))
    body = "\n".join(_row(r, anchors.get(id(r), ""), limit) for r in rows)
    return (f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
            f'style="border-collapse:collapse;font-size:13px;">\n<tr>{head}</tr>\n{body}\n'
            f'</table>')


def _details(row: Dict[str, Any], anchor: str) -> str:
    name = row["name"]
    title = f'{e(name)}'
    if row["hostname"] and row["hostname"] != name:
        title += f' <span style="{MUTED}">({e(row["hostname"])})</span>'
    out = (f'<h3 id="{anchor}" style="font-size:14px;margin:16px 0 4px;color:#1f2328;">'
           f'{title} {badge(row["status"])}</h3>')
    report = row["report"]
    if report is None:
        return out + p(e(problems_cell(row, 1)))
    out += p(f"Report of {e(when(report.get('generated_at')))}", MUTED)
    if row["problems"]:
        out += table(["Severity", "Problem"],
                     [[badge(str(pr.get("severity"))), e(pr.get("message"))]
                      for pr in row["problems"]])
    else:
        out += p("No problems.")
    mem = report.get("memory") or {}
    swap = report.get("swap") or {}
    facts = []
    if mem:
        facts.append(f"memory {escape(pct(mem.get('percent')))} of "
                     f"{escape(bytes2human(mem.get('total')))}")
    if swap.get("total"):
        facts.append(f"swap {escape(pct(swap.get('percent')))} of "
                     f"{escape(bytes2human(swap.get('total')))}")
    units = (report.get("systemd") or {}).get("failed_units") or []
    if units:
        facts.append("failed units: " + ", ".join(mono(u.get("unit")) for u in units))
    top = ((report.get("processes") or {}).get("by_memory") or [])[:3]
    if top:
        facts.append("top memory: " + ", ".join(
            f'{mono(pr.get("name"))} {escape(bytes2human(pr.get("rss")))}' for pr in top))
    if facts:
        out += p("; ".join(facts))
    fss = report.get("filesystems") or []
    if fss:
        out += p("disks: " + ", ".join(
            f'{mono(fs.get("mount"))} {escape(pct(fs.get("percent")))} of '
            f'{escape(bytes2human(fs.get("total")))}' for fs in fss))
    for section, why in sorted((report.get("unavailable") or {}).items()):
        out += p(f"{e(section)}: {e(why)}", MUTED)
    return out


def render(digest: Dict[str, Any], row_problems: int = 2) -> str:
    """The whole digest as one HTML document."""
    anchors = {id(row): _anchor(i) for i, row in enumerate(digest["detailed"])}
    body = (f'<h1 style="font-size:20px;margin:0 0 4px;color:#1f2328;">Fleet digest: '
            f'{digest["total"]} hosts</h1>'
            + p(escape(digest["summary"]), "font-weight:600;")
            + p(f"Collected {escape(when(digest['generated_at']))}", MUTED))
    missing = missing_names(digest)
    if missing:
        body += f'<div style="{ALERT}"><strong>Did not answer:</strong> {e(missing)}</div>'
    body += h2("Hosts, worst first")
    body += _hosts_table(digest["listed"], anchors, row_problems)
    if digest["unlisted"]:
        body += p(unlisted_line(digest["unlisted"], e))
    if digest["folded"]:
        body += p(f"<strong>OK ({len(digest['folded'])}):</strong> "
                  + ", ".join(e(name) for name in digest["folded"]))
    if digest["detailed"] or digest["details_note"]:
        body += h2("Details")
    if digest["details_note"]:
        body += p(escape(digest["details_note"]), "font-style:italic;")
    body += "".join(_details(r, anchors[id(r)]) for r in digest["detailed"])
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Fleet digest: {escape(digest['summary'])}</title></head>\n"
        f'<body style="margin:0;padding:0;background:#f4f5f7;">\n'
        f'<div style="max-width:960px;margin:0 auto;padding:16px;background:#ffffff;'
        f'font-family:{FONT};font-size:14px;line-height:1.4;color:#1f2328;">\n'
        f"{body}\n</div>\n</body></html>\n"
    )
