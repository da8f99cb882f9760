"""The fleet digest: one email with every host's status, worst first.

    sysreport digest --input fleet.json [--dry-run] [--output DIR] [--to ADDR]...

The input is what playbooks/fleet_report.yml writes on the controller after the
sysreport module ran on every host:

    {"schema_version": 1,
     "hosts": {"web1": <report document>,
               "db1": {"unreachable": true, "message": "ssh: connect to host db1 ..."},
               "old1": {"failed": true, "message": "Failed to import ... psutil ..."}}}

A host that did not answer is a finding, not an error: it is listed as UNREACHABLE at
the top of the table (its state is unknown, so it may be the worst of all), a host where
the module failed as FAILED right below, then CRIT, WARN and OK. The digest goes out
once, through the same outbox, lock and retry rules as a host's own report
(sysreport.deliver).
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import sys
import time
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Dict, List, Optional, Tuple

from .log import get_logger
from .render import status_of, visible
from .units import epoch_to_iso

log = get_logger(__name__)

INPUT_SCHEMA_VERSION = 1

# Table order, worst first. A host that did not answer may be down: the operator must
# see it before anything else. UNKNOWN is a document whose status is missing or odd.
ORDER = ("UNREACHABLE", "FAILED", "CRIT", "WARN", "UNKNOWN", "OK")
RANK = {status: rank for rank, status in enumerate(ORDER)}

# Size of the email: up to this many hosts, every host gets a table row and a details
# section; beyond, only the hosts that are not OK do (the OK ones are named in one
# paragraph), and at most DETAILS_MAX of them get details. Gmail clips a message
# beyond about 100 KB of HTML.
DETAILS_FOR_ALL_UP_TO = 50
DETAILS_MAX = 50
# The table stops after this many rows (the worst hosts); the rest of the hosts that are
# not OK are named with their status below it, so that a fleet-wide incident of a
# thousand CRIT hosts still makes an email, not a megabyte.
TABLE_MAX = 200
# an unreachable or failed host's message is cut to this many characters
MESSAGE_MAX = 300


class DigestInputError(ValueError):
    """The input file cannot be used: one line that says where and what to fix."""


# --------------------------------------------------------------------------- input

def load(path: str) -> Dict[str, Any]:
    """Read and check the digest input; raise DigestInputError with what to fix."""
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except OSError as exc:
        raise DigestInputError("%s: cannot read the digest input: %s"
                               % (path, exc.strerror or exc)) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise DigestInputError("%s: not valid JSON: %s; write it with "
                               "playbooks/fleet_report.yml" % (path, exc)) from None
    check(data, path)
    return data


def check(data: Any, where: str = "<input>") -> None:
    if not isinstance(data, dict):
        raise DigestInputError("%s: must be a JSON object with schema_version and hosts" % where)
    version = data.get("schema_version")
    if version != INPUT_SCHEMA_VERSION:
        raise DigestInputError("%s: schema_version is %r; this agent reads %d"
                               % (where, version, INPUT_SCHEMA_VERSION))
    hosts = data.get("hosts")
    if not isinstance(hosts, dict):
        raise DigestInputError('%s: "hosts" must be an object {inventory name: report}' % where)


# --------------------------------------------------------------------------- model

def _natural(name: str) -> Tuple[Any, ...]:
    """web2 before web10."""
    return tuple(int(part) if part.isdigit() else part.lower()
                 for part in re.split(r"(\d+)", name))


def _short(message: Any) -> str:
    text = visible(message) or "no message"
    return text if len(text) <= MESSAGE_MAX else text[:MESSAGE_MAX - 1] + "\u2026"


def _fullest(filesystems: Any) -> Optional[Dict[str, Any]]:
    best = None
    for fs in filesystems or []:
        if isinstance(fs, dict) and isinstance(fs.get("percent"), (int, float)):
            if best is None or fs["percent"] > best["percent"]:
                best = fs
    return best


def _section(report: Dict[str, Any], name: str) -> Dict[str, Any]:
    value = report.get(name)
    return value if isinstance(value, dict) else {}


# The report fields the digest draws, by the type they must have (None is always fine).
_NUMBERS = (("host", "uptime_seconds"), ("cpu", "percent"), ("memory", "percent"),
            ("memory", "total"), ("swap", "percent"), ("swap", "total"),
            ("load", "per_core15"))
_LISTS_OF_OBJECTS = ((("filesystems",), ("percent", "total")),
                     (("systemd", "failed_units"), ()),
                     (("processes", "by_memory"), ("rss",)),
                     (("problems",), ()))


class _NotAnObject(ValueError):
    pass


def _at(report: Dict[str, Any], path: Tuple[str, ...]) -> Any:
    value: Any = report
    for depth, key in enumerate(path):
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _NotAnObject("%s is %s, not an object"
                               % (".".join(path[:depth]), type(value).__name__))
        value = value.get(key)
    return value


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def malformed(report: Dict[str, Any]) -> Optional[str]:
    """What makes a report document unusable for the digest, or None. One host's odd
    document (an old or broken agent, a hand-made file) must not cost the fleet its email:
    it is listed as FAILED with this reason."""
    try:
        for path in _NUMBERS:
            value = _at(report, path)
            if not _is_number(value):
                return "%s is %r, not a number" % (".".join(path), value)
        for path, numbers in _LISTS_OF_OBJECTS:
            items = _at(report, path)
            if items is None:
                continue
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                return "%s is not a list of objects" % ".".join(path)
            for item in items:
                for key in numbers:
                    if not _is_number(item.get(key)):
                        return "%s[].%s is %r, not a number" % (".".join(path), key, item.get(key))
        _at(report, ("unavailable", "any"))
    except _NotAnObject as exc:
        return str(exc)
    return None


def host_row(name: str, value: Any) -> Dict[str, Any]:
    """One host of the input as a row of the digest: status, figures, problems."""
    row: Dict[str, Any] = {"name": name, "report": None, "message": None, "problems": [],
                           "hostname": None, "cpu_percent": None, "memory_percent": None,
                           "load_per_core": None, "disk": None, "uptime_seconds": None}
    if not isinstance(value, dict):
        row.update(status="FAILED", message="not a report document (%s)" % type(value).__name__)
        return row
    if value.get("unreachable"):
        row.update(status="UNREACHABLE", message=_short(value.get("message")))
        return row
    if value.get("failed"):
        row.update(status="FAILED", message=_short(value.get("message")))
        return row
    if "schema_version" not in value:
        row.update(status="FAILED", message="not a report document (no schema_version)")
        return row
    why = malformed(value)
    if why:
        row.update(status="FAILED", message=_short("malformed report: " + why))
        return row
    problems = list(value.get("problems") or [])     # objects: malformed() checked
    # CRIT problems before WARN ones, each group in the report's own order
    problems.sort(key=lambda p: 0 if p.get("severity") == "CRIT" else 1)
    row.update(
        status=status_of(value), report=value, problems=problems,
        hostname=_section(value, "host").get("hostname"),
        cpu_percent=_section(value, "cpu").get("percent"),
        memory_percent=_section(value, "memory").get("percent"),
        load_per_core=_section(value, "load").get("per_core15"),
        disk=_fullest(value.get("filesystems")),
        uptime_seconds=_section(value, "host").get("uptime_seconds"),
    )
    return row


def build(data: Dict[str, Any], now: Optional[float] = None) -> Dict[str, Any]:
    """The digest model that both renderers draw: rows worst first, counts, details."""
    check(data)
    rows = [host_row(str(name), value) for name, value in data["hosts"].items()]
    rows.sort(key=lambda r: (RANK.get(r["status"], 0), -len(r["problems"]), _natural(r["name"])))
    counts = {status: 0 for status in ORDER}
    for row in rows:
        counts[row["status"]] += 1
    total = len(rows)
    if total <= DETAILS_FOR_ALL_UP_TO:
        listed, folded, note = rows, [], None
    else:
        listed = [r for r in rows if r["status"] != "OK"]
        folded = [r["name"] for r in rows if r["status"] == "OK"]
        note = ("%d hosts: the table has a row and details for each host that is not OK; "
                "the OK hosts are only named (every host gets a row and details up to %d "
                "hosts)." % (total, DETAILS_FOR_ALL_UP_TO))
    unlisted = [(r["name"], r["status"]) for r in listed[TABLE_MAX:]]
    listed = listed[:TABLE_MAX]
    detailed = listed[:DETAILS_MAX]
    left_out = len(listed) - len(detailed)
    if left_out:
        note = ((note + " ") if note else "") + (
            "Details for the first %d only; the %d hosts after them are in the table "
            "without details (see each host's own report)." % (DETAILS_MAX, left_out))
    worst = next((s for s in ORDER if counts[s] and s != "UNKNOWN"), "OK")
    return {
        "generated_at": epoch_to_iso(time.time() if now is None else now),
        "total": total,
        "counts": counts,
        "summary": counts_line(counts),
        "worst": worst,
        "rows": rows,          # every host, worst first
        "listed": listed,      # the hosts that get a table row
        "folded": folded,      # OK hosts only named, in a big fleet
        "unlisted": unlisted,  # (name, status) of hosts not OK beyond the table's TABLE_MAX
        "detailed": detailed,  # the hosts that get a details section
        "details_note": note,
    }


def counts_line(counts: Dict[str, int]) -> str:
    """'1 UNREACHABLE, 2 CRIT, 3 WARN, 40 OK' (statuses with no host left out)."""
    parts = ["%d %s" % (n, status) for status, n in counts.items() if n]
    return ", ".join(parts) if parts else "no hosts"


def subject(digest: Dict[str, Any], prefix: str = "[sysreport]") -> str:
    text = "fleet digest: %s (%d host%s)" % (digest["summary"], digest["total"],
                                            "" if digest["total"] == 1 else "s")
    return ("%s %s" % (prefix, text)).strip()


# --------------------------------------------------------------------------- message

def message_id(data: Dict[str, Any]) -> str:
    """Stable for the same input: a retried or repeated run queues the same message."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode("utf-8"))
    return "<fleet-digest.%s@%s>" % (digest.hexdigest()[:24], socket.getfqdn() or "localhost")


def message(digest: Dict[str, Any], data: Dict[str, Any], config: Any,
            to: Optional[List[str]] = None) -> EmailMessage:
    """multipart/alternative: the text digest first, the HTML digest second."""
    from .render import digest_html, digest_text
    from .render.message import header_value, set_text_header

    msg = EmailMessage()
    set_text_header(msg, "Subject", header_value(subject(digest, config.mail.subject_prefix)))
    if config.mail["from"]:  # config.load() already fell back to smtp.username
        msg["From"] = header_value(config.mail["from"])
    recipients = [header_value(a) for a in (to or config.mail.to)]
    if recipients:
        msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id(data)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Sysreport-Status"] = "CRIT" if digest["worst"] in ("UNREACHABLE", "FAILED") \
        else digest["worst"]
    msg["X-Sysreport-Digest"] = "%d hosts" % digest["total"]
    msg.set_content(digest_text.render(digest), subtype="plain", charset="utf-8")
    msg.add_alternative(digest_html.render(digest), subtype="html", charset="utf-8")
    return msg


# --------------------------------------------------------------------------- front door

def run(config: Any, args: Any) -> int:
    """`sysreport digest`: render the digest of --input; write, print or send it."""
    from .config import ConfigError

    try:
        data = load(args.input)
    except DigestInputError as exc:
        log.error("%s", exc)
        return 78
    digest = build(data)
    to = list(getattr(args, "to", None) or [])
    output = getattr(args, "output", None)
    dry_run = getattr(args, "dry_run", False)
    if not (to or config.mail.to) and not (output or dry_run):
        log.error("%s: mail.to: no recipient; add one, or pass --to ADDR",
                  getattr(config, "path", None) or "<defaults>")
        return 78
    msg = message(digest, data, config, to)
    log.info("digest of %d hosts: %s", digest["total"], digest["summary"])
    if output:
        from .atomic import write_files

        html_part = msg.get_body(("html",))
        written = write_files(output, {"digest.html": html_part.get_content().encode("utf-8"),
                                       "digest.eml": msg.as_bytes()})
        if not written:
            return 1
    if dry_run or output:
        if dry_run:
            sys.stdout.write(msg.get_body(("plain",)).get_content())
        log.info("not sent (%s)", "--dry-run" if dry_run else "--output")
        return 0

    from . import deliver
    from .deliver.lock import LockBusy

    try:
        outcome = deliver.send(msg.as_bytes(), config)
    except ConfigError as exc:
        for line in exc.problems:
            log.error("%s", line)
        return 78
    except LockBusy as exc:
        log.error("another sysreport run holds the lock (%s); try again later", exc)
        return 75
    if outcome.exit_code == 0:
        log.info("digest sent")
    return outcome.exit_code
