"""Collect the host's facts with psutil, one isolated collector per section.

    facts = collect_all(config)

Every collector runs inside isolate(): one that raises (permission, a missing
kernel feature, psutil failing) leaves None in its section and
"not available: <reason>" in facts["unavailable"][section]; it never aborts the report.

CPU use needs two samples. Instead of blocking a second in cpu_percent(interval=1),
collect_all() samples CPU times (system-wide and per process) first, runs the other
collectors inside the window, sleeps only what is left of config.report.cpu_sample_seconds,
then samples again. This path imports nothing heavy: no email, no html, no json
unless systemctl answers in JSON.
"""

from __future__ import annotations

import time

import psutil

from .. import __version__
from ..units import epoch_to_iso
from . import cpu, disks, host, load, memory, network, processes, sensors, systemd, users
from ._util import Unavailable, setting

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any, Callable, Dict, Optional, Tuple

__all__ = ["SECTIONS", "SCHEMA_VERSION", "Unavailable", "collect_all", "isolate"]

SCHEMA_VERSION = 1

# Document order of the sections (the contract's list).
SECTIONS = ("host", "cpu", "load", "memory", "swap", "filesystems", "network",
            "processes", "systemd", "users", "temperatures")

# Collectors that need nothing but the config; cpu and processes are windowed (below).
COLLECTORS: Dict[str, Callable[[Any], Any]] = {
    "host": host.collect,
    "load": load.collect,
    "memory": memory.collect_memory,
    "swap": memory.collect_swap,
    "filesystems": disks.collect,
    "network": network.collect,
    "systemd": systemd.collect,
    "users": users.collect,
    "temperatures": sensors.collect,
}

_REASON_MAX = 200


def isolate(func: Callable[..., Any], *args: Any) -> Tuple[Any, Optional[str]]:
    """Run one collector: (value, None) on success, (None, "not available: <reason>") on failure.

    Catches Exception, not BaseException: Ctrl-C and SystemExit still stop the program.
    """
    try:
        return func(*args), None
    except Unavailable as exc:
        reason = str(exc)
    except (PermissionError, psutil.AccessDenied):
        reason = "permission denied"
    except NotImplementedError as exc:
        reason = str(exc) or "not supported on this platform"
    except Exception as exc:  # a collector bug or an odd kernel must not cost the whole report
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if len(reason) > _REASON_MAX:
        reason = reason[: _REASON_MAX - 1] + "…"
    return None, "not available: " + reason


def wanted_sections(config: Any) -> Tuple[str, ...]:
    """config.report.sections, or every section when it is empty or absent."""
    chosen = setting(config, "report", "sections", None) or ()
    if not chosen:
        return SECTIONS
    return tuple(s for s in SECTIONS if s in set(chosen))


def collect_all(config: Any,
                collectors: Optional[Dict[str, Callable[[Any], Any]]] = None) -> Dict[str, Any]:
    """Collect every wanted section into the facts dict of the contract (no trends, no status).

    collectors: replaces the plain collectors by section name (tests inject a failing one).
    A section left out by config.report.sections is None and not listed as unavailable.
    """
    plain = dict(COLLECTORS)
    if collectors:
        plain.update(collectors)
    wanted = wanted_sections(config)
    window = float(setting(config, "report", "cpu_sample_seconds", 0.1) or 0.1)

    now = time.time()
    facts: Dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": epoch_to_iso(now),
        "agent": {"version": __version__},
    }
    for name in SECTIONS:
        facts[name] = None
    unavailable: Dict[str, str] = {}

    # Open the sampling window: first CPU samples.
    started = time.monotonic()
    cpu_start = proc_start = None
    if "cpu" in wanted:
        cpu_start, why = isolate(cpu.begin)
        if why:
            unavailable["cpu"] = why
    if "processes" in wanted:
        proc_start, why = isolate(processes.begin)
        if why:
            unavailable["processes"] = why

    # Everything else runs inside the window.
    for name in SECTIONS:
        if name in plain and name in wanted:
            facts[name], why = isolate(plain[name], config)
            if why:
                unavailable[name] = why

    # Close the window: sleep only the remainder, then the second samples.
    if cpu_start is not None or proc_start is not None:
        remaining = window - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
    if cpu_start is not None:
        facts["cpu"], why = isolate(cpu.collect, config, cpu_start)
        if why:
            unavailable["cpu"] = why
    if proc_start is not None:
        mem = facts.get("memory")
        total = mem.get("total") if isinstance(mem, dict) else None
        facts["processes"], why = isolate(processes.collect, config, proc_start, total)
        if why:
            unavailable["processes"] = why

    facts["unavailable"] = {name: unavailable[name] for name in SECTIONS if name in unavailable}
    return facts
