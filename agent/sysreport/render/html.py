"""The report as HTML for mail clients: inline styles only (Gmail strips <style>),
tables for layout, one column at most 640px wide, status badges that carry the word
as well as the colour, and a usage bar per filesystem.

Every host value goes through render.visible() and then html.escape(): a process
called <b>x</b> shows as the text <b>x</b>, a newline in it as \\n.
"""

from __future__ import annotations

from html import escape

from ..units import bytes2human, duration
from . import hostname_of, network_rows, status_of, visible
from .text import pct, signed, signed_bytes, when

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any, Dict, Iterable, List, Optional

COLOURS = {"OK": "#2e7d32", "WARN": "#b26a00", "CRIT": "#c62828", "UNKNOWN": "#616161"}
BAR_BG = "#e5e7eb"
FONT = "-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
MONO = "ui-monospace,SFMono-Regular,Menlo,Consolas,monospace"
TD = "padding:4px 6px;border-bottom:1px solid #eceef1;vertical-align:top;"
TH = "padding:4px 6px;border-bottom:2px solid #d0d4d9;text-align:left;font-weight:600;"
NUM = "text-align:right;white-space:nowrap;"


def e(value: Any) -> str:
    """A host value made visible and HTML-escaped (quotes too: safe in attributes)."""
    return escape(visible(value), quote=True)


def badge(status: str) -> str:
    colour = COLOURS.get(status, COLOURS["UNKNOWN"])
    return (f'<span style="display:inline-block;padding:1px 7px;border-radius:3px;'
            f'background:{colour};color:#ffffff;font-weight:700;font-size:12px;'
            f'letter-spacing:0.5px;">{escape(status)}</span>')


def severity_of(report: Dict[str, Any], section: str, subject: Optional[str] = None) -> str:
    """The worst problem the judge found for a section (and subject): the bars take their
    colour from the verdict, so per-mount thresholds colour them too."""
    found = "OK"
    for problem in report.get("problems") or []:
        if problem.get("section") == section and (subject is None or problem.get("subject") == subject):
            if problem.get("severity") == "CRIT" or (problem.get("severity") == "WARN" and found == "OK"):
                found = problem["severity"]
    return found


def bar(percent: Optional[float], status: str) -> str:
    """A usage bar: a one-row table whose first cell is percent% wide and coloured."""
    p = 0.0 if percent is None else max(0.0, min(100.0, float(percent)))
    colour = COLOURS.get(status, COLOURS["UNKNOWN"])
    cells = ""
    if p > 0:
        cells += (f'<td style="width:{p:.0f}%;background:{colour};height:8px;font-size:0;'
                  f'line-height:0;">&nbsp;</td>')
    if p < 100:
        cells += '<td style="height:8px;font-size:0;line-height:0;">&nbsp;</td>'
    return (f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
            f'style="border-collapse:collapse;background:{BAR_BG};border-radius:2px;">'
            f'<tr>{cells}</tr></table>')


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], numeric: Iterable[int] = (),
          narrow: Iterable[int] = ()) -> str:
    """A table; cells are already-escaped HTML. Numeric columns align right; narrow
    ones take only the width they need (the others share the rest)."""
    numeric, narrow = set(numeric), set(narrow)

    def style(i: int) -> str:
        return (NUM if i in numeric else "") + ("width:1%;white-space:nowrap;" if i in narrow else "")

    head = "".join(f'<th style="{TH}{style(i)}">{escape(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td style="{TD}{style(i)}">{c}</td>'
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return (f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
            f'style="border-collapse:collapse;font-size:13px;margin:4px 0 8px;">'
            f'<tr>{head}</tr>{body}</table>')


def h2(title: str) -> str:
    return (f'<h2 style="font-size:15px;margin:20px 0 6px;padding-bottom:3px;'
            f'border-bottom:1px solid #d0d4d9;color:#1f2328;">{escape(title)}</h2>')


def p(html_text: str, style: str = "") -> str:
    return f'<p style="margin:4px 0;{style}">{html_text}</p>'


def kv(pairs: List[tuple]) -> str:
    rows = "".join(f'<tr><td style="{TD}color:#57606a;white-space:nowrap;width:1%;">{escape(k)}</td>'
                   f'<td style="{TD}">{v}</td></tr>' for k, v in pairs)
    return (f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
            f'style="border-collapse:collapse;font-size:13px;">{rows}</table>')


def mono(value: Any) -> str:
    return f'<span style="font-family:{MONO};font-size:12px;word-break:break-all;">{e(value)}</span>'


def _problems(problems: List[Dict[str, Any]]) -> str:
    if not problems:
        return p("No problems.")
    rows = [[badge(str(pr.get("severity"))), e(pr.get("message"))] for pr in problems]
    return table(["Severity", "Problem"], rows, narrow=(0,))


def _changes(title: str, ch: Optional[Dict[str, Any]]) -> str:
    if not ch:
        return ""
    out = p(f"<strong>{escape(title)}</strong> ({e(when(ch.get('at')))}, "
            f"{ch.get('hours', 0):.0f} h): memory {escape(signed(ch.get('memory_percent'), ' pts'))}, "
            f"swap {escape(signed(ch.get('swap_percent'), ' pts'))}, "
            f"load15 {escape(signed(ch.get('load15'), '', 2))}")
    mounts = ch.get("mounts") or {}
    if mounts:
        out += table(["Mount", "Used", "Use"],
                     [[mono(m), escape(signed_bytes(v.get("used"))),
                       escape(signed(v.get("percent"), " pts"))] for m, v in sorted(mounts.items())],
                     numeric=(1, 2))
    return out


def _trends(trends: Optional[Dict[str, Any]]) -> str:
    if not trends:
        return ""
    out = h2("Trends")
    if not trends.get("previous_at"):
        return out + p("First report: nothing to compare with yet.")
    kept = trends.get("reports_kept") or 0
    out += p(f"{kept} earlier report{'s' if kept != 1 else ''} kept, the previous of "
             f"{e(when(trends.get('previous_at')))}.")
    if trends.get("rebooted_since_previous"):
        out += p("<strong>Rebooted</strong> since the previous report.")
    if trends.get("new_failed_units"):
        out += p("Newly failed units: " + ", ".join(mono(u) for u in trends["new_failed_units"]))
    changes = trends.get("changes") or {}
    out += _changes("Since the previous report", changes.get("since_previous"))
    out += _changes("Over a week", changes.get("since_week"))
    forecasts = trends.get("forecasts") or []
    if forecasts:
        rows = []
        for fc in forecasts:
            days = fc.get("days_until_full")
            shown = "not growing" if days is None else f"~{days:.0f} days"
            rows.append([mono(fc.get("mount")), escape(shown) + (" " + badge("WARN") if fc.get("near") else ""),
                         escape(signed_bytes(int(fc.get("bytes_per_day") or 0)) + "/day")])
        out += p("<strong>Days until full</strong> (trend of the last 14 days)")
        out += table(["Mount", "Full in", "Growth"], rows, numeric=(2,))
    growing = trends.get("growing_processes") or []
    if growing:
        out += p("<strong>Memory growing at every report</strong>")
        out += table(["Process", "User", "RSS", "Reports"],
                     [[mono(g.get("name")), e(g.get("user")),
                       escape(f"{bytes2human(g.get('rss_first'))} → {bytes2human(g.get('rss_last'))}"),
                       escape(str(g.get("reports")))] for g in growing], numeric=(2, 3))
    return out


def _filesystems(report: Dict[str, Any], fss: List[Dict[str, Any]]) -> str:
    if not fss:
        return p("No filesystems found.")
    rows = []
    for fs in fss:
        status = severity_of(report, "filesystems", fs.get("mount"))
        detail = (f'<div style="font-size:11px;color:#57606a;">{e(fs.get("device"))} '
                  f'({e(fs.get("fstype"))}), inodes {escape(pct(fs.get("inodes_percent")))}</div>')
        rows.append([mono(fs.get("mount")) + detail,
                     bar(fs.get("percent"), status)
                     + f'<div style="font-size:11px;color:#57606a;">{escape(bytes2human(fs.get("used")))}'
                       f' of {escape(bytes2human(fs.get("total")))}, '
                       f'{escape(bytes2human(fs.get("free")))} free</div>',
                     f'<strong style="color:{COLOURS[status] if status != "OK" else "#1f2328"};">'
                     f'{escape(pct(fs.get("percent")))}</strong>'])
    return table(["Mount", "Usage", "Use"], rows, numeric=(2,), narrow=(2,))


def _processes(title: str, rows: List[Dict[str, Any]]) -> str:
    out = p(f"<strong>{escape(title)}</strong>")
    if not rows:
        return out + p("(none)", "color:#57606a;")
    body = []
    for r in rows:
        cmd = r.get("cmdline")
        name = mono(r.get("name"))
        if cmd and cmd != r.get("name"):
            name += f'<div style="font-size:11px;color:#57606a;">{mono(cmd)}</div>'
        body.append([escape(str(r.get("pid", ""))), e(r.get("user")), name,
                     escape(bytes2human(r.get("rss"))), escape(f"{r.get('cpu_percent', 0):.1f}%")])
    return out + table(["PID", "User", "Process", "RSS", "CPU"], body, numeric=(0, 3, 4),
                       narrow=(0, 3, 4))


def _details(report: Dict[str, Any]) -> str:
    unavailable = report.get("unavailable") or {}
    out = ""

    def missing(*sections: str) -> str:
        return "".join(p(f"{escape(s)}: {e(unavailable[s])}", "color:#57606a;")
                       for s in sections if s in unavailable)

    def shown(*sections: str) -> bool:
        return any(report.get(s) is not None or s in unavailable for s in sections)

    host = report.get("host")
    if shown("host"):
        out += h2("Host")
        if host:
            name, fqdn = visible(host.get("hostname")), visible(host.get("fqdn"))
            out += kv([("Host", e(name) + (f" ({e(fqdn)})" if fqdn and fqdn != name else "")),
                       ("OS", e(host.get("os"))), ("Kernel", e(host.get("kernel"))),
                       ("Up", escape(f"{duration(host.get('uptime_seconds'))}, since "
                                     f"{when(host.get('boot_time'))}"))])
        out += missing("host")

    cpu, load = report.get("cpu"), report.get("load")
    if shown("cpu", "load"):
        out += h2("CPU and load")
        pairs = []
        if cpu:
            pairs.append(("CPU", escape(f"{pct(cpu.get('percent'))} busy over "
                                        f"{cpu.get('sample_seconds', 0):.2f} s, "
                                        f"{cpu.get('logical')} logical CPUs")))
        if load:
            pairs.append(("Load", escape(f"{load.get('load1'):.2f} {load.get('load5'):.2f} "
                                         f"{load.get('load15'):.2f} (per core "
                                         f"{load.get('per_core15'):.2f} over 15 min)")))
        out += kv(pairs) if pairs else ""
        out += missing("cpu", "load")

    mem, swap = report.get("memory"), report.get("swap")
    if shown("memory", "swap"):
        out += h2("Memory")
        rows = []
        if mem:
            rows.append(["Memory", bar(mem.get("percent"), severity_of(report, "memory")),
                         escape(f"{pct(mem.get('percent'))} of {bytes2human(mem.get('total'))}")])
        if swap:
            rows.append(["Swap", bar(swap.get("percent"), severity_of(report, "swap"))
                         if swap.get("total") else "none",
                         escape(f"{pct(swap.get('percent'))} of {bytes2human(swap.get('total'))}")])
        out += table(["", "Usage", "Use"], rows, numeric=(2,), narrow=(0, 2)) if rows else ""
        out += missing("memory", "swap")

    if shown("filesystems"):
        out += h2("Filesystems")
        if report.get("filesystems") is not None:
            out += _filesystems(report, report["filesystems"])
        out += missing("filesystems")

    if shown("processes"):
        out += h2("Processes")
        procs = report.get("processes")
        if procs:
            out += p(escape(f"{procs.get('count', 0)} processes."))
            out += _processes("Top by memory (RSS)", procs.get("by_memory") or [])
            out += _processes("Top by CPU during the sample", procs.get("by_cpu") or [])
        out += missing("processes")

    if shown("systemd"):
        out += h2("Systemd")
        sd = report.get("systemd")
        if sd is not None:
            units = sd.get("failed_units") or []
            out += (table(["Failed unit", "State", "Description"],
                          [[mono(u.get("unit")), e(f"{u.get('active')}/{u.get('sub')}"),
                            e(u.get("description"))] for u in units])
                    if units else p("No failed units."))
        out += missing("systemd")

    if shown("network"):
        out += h2("Network")
        nics = report.get("network")
        if nics:
            out += table(["Interface", "Sent", "Received", "Err in/out", "Drop in/out"],
                         [[mono(n.get("interface")), escape(bytes2human(n.get("bytes_sent"))),
                           escape(bytes2human(n.get("bytes_recv"))),
                           escape(f"{n.get('errin', 0)}/{n.get('errout', 0)}"),
                           escape(f"{n.get('dropin', 0)}/{n.get('dropout', 0)}")]
                          for n in network_rows(nics)],
                         numeric=(1, 2, 3, 4))
        elif nics is not None:
            out += p("No interfaces besides lo.")
        out += missing("network")

    if shown("users"):
        out += h2("Users")
        users = report.get("users")
        if users:
            out += table(["User", "Terminal", "From", "Since"],
                         [[e(u.get("name")), e(u.get("terminal")), e(u.get("host")),
                           e(when(u.get("started")))] for u in users])
        elif users is not None:
            out += p("Nobody logged in.")
        out += missing("users")

    if shown("temperatures"):
        out += h2("Temperatures")
        temps = report.get("temperatures")
        if temps:
            out += table(["Sensor", "Label", "Now", "High", "Critical"],
                         [[e(t.get("sensor")), e(t.get("label")),
                           escape(f"{t.get('current', 0):.0f}°C"),
                           escape("-" if t.get("high") is None else f"{t['high']:.0f}°C"),
                           escape("-" if t.get("critical") is None else f"{t['critical']:.0f}°C")]
                          for t in temps], numeric=(2, 3, 4))
        out += missing("temperatures")
    return out


def render(report: Dict[str, Any]) -> str:
    """The whole report as one HTML document."""
    status = status_of(report)
    host = hostname_of(report)
    problems = report.get("problems") or []
    version = (report.get("agent") or {}).get("version", "")
    body = (
        f'<h1 style="font-size:20px;margin:0 0 4px;color:#1f2328;">{e(host)} {badge(status)}</h1>'
        + p(f"Report of {e(when(report.get('generated_at')))}, sysreport {e(version)}",
            "color:#57606a;font-size:12px;")
        + h2("Problems") + _problems(problems)
        + _trends(report.get("trends"))
        + _details(report)
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(host)} {escape(status)}</title></head>\n"
        f'<body style="margin:0;padding:0;background:#f4f5f7;">\n'
        f'<div style="max-width:640px;margin:0 auto;padding:16px;background:#ffffff;'
        f'font-family:{FONT};font-size:14px;line-height:1.4;color:#1f2328;">\n'
        f"{body}\n</div>\n</body></html>\n"
    )
