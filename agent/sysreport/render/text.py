"""The report as plain text: status first, problems, trends, then the details.

Fits an 80-column terminal and reads on a phone: short lines, one fact per line,
section headers in capitals. Every host value is shown with render.visible(), so a
newline in a process name prints as \\n and cannot break the layout.

    web-01: CRIT (2 problems)
    Report of 2026-12-03 13:00 UTC, sysreport 0.1.0

    PROBLEMS
      CRIT  / 97% full
      CRIT  2 failed units
"""

from __future__ import annotations


from ..units import bytes2human, duration
from . import hostname_of, network_rows, status_of, visible

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any, Dict, List, Optional

WIDTH = 80
SECTION_TITLES = (
    ("host", "HOST"), ("cpu", "CPU AND LOAD"), ("load", "CPU AND LOAD"),
    ("memory", "MEMORY"), ("swap", "MEMORY"), ("filesystems", "FILESYSTEMS"),
    ("network", "NETWORK"), ("processes", "PROCESSES"), ("systemd", "SYSTEMD"),
    ("users", "USERS"), ("temperatures", "TEMPERATURES"),
)


def fit(value: Any, width: int) -> str:
    """visible(value) cut to `width` characters (with …) and padded to it."""
    text = visible(value)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.ljust(width)


def cut(value: Any, width: int) -> str:
    text = visible(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def when(iso: Optional[str]) -> str:
    """'2026-12-03T13:00:04+00:00' -> '2026-12-03 13:00 UTC'."""
    if not iso:
        return "-"
    text = visible(iso)
    if len(text) >= 16 and text[10] == "T" and text.endswith("+00:00"):
        return text[:10] + " " + text[11:16] + " UTC"
    return text


def signed(value: Optional[float], unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}{unit}"


def signed_bytes(value: Optional[int]) -> str:
    if value is None:
        return "-"
    return ("+" if value >= 0 else "") + bytes2human(value)


def pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.0f}%"


class _Out:
    def __init__(self) -> None:
        self.lines: List[str] = []

    def add(self, line: str = "") -> None:
        self.lines.append(line.rstrip())

    def header(self, title: str) -> None:
        if self.lines and self.lines[-1]:
            self.lines.append("")
        self.lines.append(title)

    def kv(self, key: str, value: str) -> None:
        self.add(f"  {key:<10} {value}")


def _changes(out: _Out, title: str, ch: Optional[Dict[str, Any]]) -> None:
    if not ch:
        return
    out.add(f"  {title} ({when(ch.get('at'))}, {ch.get('hours', 0):.0f} h):")
    out.add(f"    memory {signed(ch.get('memory_percent'), ' pts')}, "
            f"swap {signed(ch.get('swap_percent'), ' pts')}, "
            f"load15 {signed(ch.get('load15'), '', 2)}")
    for mount, m in sorted((ch.get("mounts") or {}).items()):
        out.add(f"    {fit(mount, 20)} {signed_bytes(m.get('used')):>11} "
                f"({signed(m.get('percent'), ' pts')})")


def _trends(out: _Out, trends: Optional[Dict[str, Any]]) -> None:
    if not trends:
        return
    kept = trends.get("reports_kept") or 0
    out.header("TRENDS")
    if not trends.get("previous_at"):
        out.add("  First report: nothing to compare with yet.")
        return
    out.add(f"  {kept} earlier report{'s' if kept != 1 else ''} kept, "
            f"the previous of {when(trends.get('previous_at'))}.")
    if trends.get("rebooted_since_previous"):
        out.add("  Rebooted since the previous report.")
    new_failed = trends.get("new_failed_units") or []
    if new_failed:
        out.add("  Newly failed units: " + ", ".join(visible(u) for u in new_failed))
    changes = trends.get("changes") or {}
    _changes(out, "Since the previous report", changes.get("since_previous"))
    _changes(out, "Over a week", changes.get("since_week"))
    forecasts = trends.get("forecasts") or []
    if forecasts:
        out.add("  Days until full (trend of the last 14 days):")
        for fc in forecasts:
            days = fc.get("days_until_full")
            rate = fc.get("bytes_per_day") or 0
            shown = "not growing" if days is None else f"~{days:.0f} days"
            flag = "  NEAR" if fc.get("near") else ""
            out.add(f"    {fit(fc.get('mount'), 20)} {shown:<12} "
                    f"{signed_bytes(int(rate))}/day{flag}")
    growing = trends.get("growing_processes") or []
    if growing:
        out.add("  Memory growing at every report:")
        for g in growing:
            out.add(f"    {fit(g.get('name'), 16)} {fit(g.get('user'), 10)} "
                    f"{bytes2human(g.get('rss_first'))} -> {bytes2human(g.get('rss_last'))} "
                    f"over {g.get('reports')} reports")


def _host(out: _Out, h: Dict[str, Any]) -> None:
    name = visible(h.get("hostname"))
    fqdn = visible(h.get("fqdn"))
    out.kv("Host", name if not fqdn or fqdn == name else f"{name} ({fqdn})")
    out.kv("OS", visible(h.get("os")))
    out.kv("Kernel", visible(h.get("kernel")))
    out.kv("Up", f"{duration(h.get('uptime_seconds'))}, since {when(h.get('boot_time'))}")


def _cpu_load(out: _Out, cpu: Optional[Dict[str, Any]], load: Optional[Dict[str, Any]]) -> None:
    if cpu:
        cores = f"{cpu.get('logical')} logical"
        if cpu.get("physical"):
            cores += f", {cpu['physical']} physical"
        out.kv("CPU", f"{pct(cpu.get('percent'))} busy over {cpu.get('sample_seconds', 0):.2f} s "
                      f"({cores})")
        per = cpu.get("per_cpu") or []
        if 1 < len(per) <= 64:
            line = " ".join(f"{p:.0f}" for p in per)
            out.kv("Per CPU", line if len(line) <= WIDTH - 14 else line[: WIDTH - 15] + "…")
    if load:
        out.kv("Load", f"{load.get('load1'):.2f} {load.get('load5'):.2f} {load.get('load15'):.2f}"
                       f" (1, 5, 15 min)")
        out.kv("Per core", f"{load.get('per_core1'):.2f} {load.get('per_core5'):.2f} "
                           f"{load.get('per_core15'):.2f}")


def _memory(out: _Out, mem: Optional[Dict[str, Any]], swap: Optional[Dict[str, Any]]) -> None:
    if mem:
        out.kv("Memory", f"{pct(mem.get('percent'))} used: {bytes2human(mem.get('used'))} of "
                         f"{bytes2human(mem.get('total'))}, "
                         f"{bytes2human(mem.get('available'))} available")
    if swap:
        if swap.get("total"):
            out.kv("Swap", f"{pct(swap.get('percent'))} used: {bytes2human(swap.get('used'))} of "
                           f"{bytes2human(swap.get('total'))}")
        else:
            out.kv("Swap", "none")


def _filesystems(out: _Out, fss: List[Dict[str, Any]]) -> None:
    if not fss:
        out.add("  No filesystems found.")
        return
    out.add(f"  {'Mount':<20} {'Use':>4} {'Used':>10} {'Size':>10} {'Free':>10} {'Inodes':>6}")
    for fs in fss:
        mount = visible(fs.get("mount"))
        if len(mount) > 20:  # a long mount point gets a line of its own
            out.add(f"  {cut(fs.get('mount'), WIDTH - 2)}")
            mount = ""
        out.add(f"  {mount:<20} {pct(fs.get('percent')):>4} {bytes2human(fs.get('used')):>10} "
                f"{bytes2human(fs.get('total')):>10} {bytes2human(fs.get('free')):>10} "
                f"{pct(fs.get('inodes_percent')):>6}")
        out.add(f"    {cut(fs.get('device'), 50)} ({cut(fs.get('fstype'), 14)})")


def _network(out: _Out, nics: List[Dict[str, Any]]) -> None:
    if not nics:
        out.add("  No interfaces besides lo.")
        return
    out.add(f"  {'Interface':<14} {'Sent':>10} {'Received':>10} {'Errors':>9} {'Drops':>9}")
    for n in network_rows(nics):
        errors = f"{n.get('errin', 0)}/{n.get('errout', 0)}"
        drops = f"{n.get('dropin', 0)}/{n.get('dropout', 0)}"
        out.add(f"  {fit(n.get('interface'), 14)} {bytes2human(n.get('bytes_sent')):>10} "
                f"{bytes2human(n.get('bytes_recv')):>10} {errors:>9} {drops:>9}")


def _process_table(out: _Out, title: str, rows: List[Dict[str, Any]]) -> None:
    out.add(f"  {title}")
    if not rows:
        out.add("    (none)")
        return
    out.add(f"    {'PID':>7} {'User':<10} {'RSS':>10} {'Mem':>5} {'CPU':>6}  Name")
    for r in rows:
        out.add(f"    {r.get('pid', 0):>7} {fit(r.get('user'), 10)} {bytes2human(r.get('rss')):>10} "
                f"{r.get('memory_percent', 0):>4.1f}% {r.get('cpu_percent', 0):>5.1f}%  "
                f"{cut(r.get('name'), 26)}")
        cmd = cut(r.get("cmdline"), WIDTH - 14)
        if cmd and cmd != visible(r.get("name")):
            out.add(f"    {'':>7} {cmd}")


def _processes(out: _Out, p: Dict[str, Any]) -> None:
    out.add(f"  {p.get('count', 0)} processes.")
    _process_table(out, "Top by memory (RSS):", p.get("by_memory") or [])
    _process_table(out, "Top by CPU during the sample:", p.get("by_cpu") or [])


def _systemd(out: _Out, s: Dict[str, Any]) -> None:
    units = s.get("failed_units") or []
    if not units:
        out.add("  No failed units.")
        return
    out.add(f"  {len(units)} failed unit{'s' if len(units) != 1 else ''}:")
    for u in units:
        out.add(f"    {cut(u.get('unit'), 40)} ({cut(u.get('active'), 12)}/{cut(u.get('sub'), 12)})")
        if u.get("description"):
            out.add(f"      {cut(u.get('description'), WIDTH - 8)}")


def _users(out: _Out, users: List[Dict[str, Any]]) -> None:
    if not users:
        out.add("  Nobody logged in.")
        return
    for u in users:
        origin = f" from {cut(u.get('host'), 30)}" if u.get("host") else ""
        out.add(f"  {fit(u.get('name'), 12)} {fit(u.get('terminal'), 8)} since "
                f"{when(u.get('started'))}{origin}")


def _temperatures(out: _Out, temps: List[Dict[str, Any]]) -> None:
    for t in temps:
        limits = []
        if t.get("high") is not None:
            limits.append(f"high {t['high']:.0f}")
        if t.get("critical") is not None:
            limits.append(f"critical {t['critical']:.0f}")
        extra = f" ({', '.join(limits)})" if limits else ""
        out.add(f"  {fit(t.get('sensor'), 14)} {fit(t.get('label'), 20)} "
                f"{t.get('current', 0):5.1f}°C{extra}")


def render(report: Dict[str, Any]) -> str:
    """The whole report as text (lines without trailing spaces, ending with a newline)."""
    out = _Out()
    status = status_of(report)
    problems = report.get("problems") or []
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}" if problems else "no problems"
    out.add(f"{visible(hostname_of(report))}: {status} ({count})")
    version = (report.get("agent") or {}).get("version", "")
    out.add(f"Report of {when(report.get('generated_at'))}, sysreport {visible(version)}")

    if problems:
        out.header("PROBLEMS")
        for p in problems:
            out.add(f"  {visible(p.get('severity')):<5} {visible(p.get('message'))}")

    _trends(out, report.get("trends"))

    unavailable = report.get("unavailable") or {}
    done = set()
    for section, title in SECTION_TITLES:
        if title in done:
            continue
        members = [s for s, t in SECTION_TITLES if t == title]
        values = {s: report.get(s) for s in members}
        missing = [s for s in members if s in unavailable]
        if all(v is None for v in values.values()) and not missing:
            continue  # left out by config.report.sections
        done.add(title)
        out.header(title)
        if title == "HOST" and values["host"]:
            _host(out, values["host"])
        elif title == "CPU AND LOAD":
            _cpu_load(out, values.get("cpu"), values.get("load"))
        elif title == "MEMORY":
            _memory(out, values.get("memory"), values.get("swap"))
        elif title == "FILESYSTEMS" and values["filesystems"] is not None:
            _filesystems(out, values["filesystems"])
        elif title == "NETWORK" and values["network"] is not None:
            _network(out, values["network"])
        elif title == "PROCESSES" and values["processes"]:
            _processes(out, values["processes"])
        elif title == "SYSTEMD" and values["systemd"] is not None:
            _systemd(out, values["systemd"])
        elif title == "USERS" and values["users"] is not None:
            _users(out, values["users"])
        elif title == "TEMPERATURES" and values["temperatures"] is not None:
            _temperatures(out, values["temperatures"])
        for s in missing:
            out.add(f"  {s}: {visible(unavailable[s])}")
    return "\n".join(out.lines).rstrip("\n") + "\n"
