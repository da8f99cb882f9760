"""The report as an email: multipart/alternative, the real text report first, the HTML second.

    msg = build(report, config)            # email.message.EmailMessage
    msg.as_bytes()                         # what deliver.send() hands to the server

Subject: "[sysreport] web-01 CRIT: / 97% full, 2 failed units" (status first, capped).
Every header value is stripped of CR, LF and other control characters: no host value
can add a header. Message-ID and Date derive from the host name and generated_at, so a
message retried from the outbox is recognisably the same message.

Not imported on the collect path (email is a heavy import): the CLI imports it lazily.
"""

from __future__ import annotations

import hashlib
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Dict, Iterable, List, Union

from ..collect._util import setting
from ..units import iso_to_epoch
from . import hostname_of, html, status_of, text

SUBJECT_MAX = 120


def header_value(value: Any) -> str:
    """One line for a header: control characters and line separators become spaces,
    runs of whitespace collapse, ends trimmed."""
    raw = "" if value is None else str(value)
    cleaned = "".join(" " if (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029"
                               or 0xD800 <= ord(c) < 0xE000) else c for c in raw)
    return " ".join(cleaned.split())


def subject(report: Dict[str, Any], prefix: str = "[sysreport]", limit: int = SUBJECT_MAX) -> str:
    """'[sysreport] web-01 CRIT: / 97% full, 2 failed units', at most `limit` characters."""
    head = " ".join(x for x in (header_value(prefix), header_value(hostname_of(report)),
                                status_of(report)) if x)
    messages = [header_value(p.get("message")) for p in report.get("problems") or []]
    messages = [m for m in messages if m]
    line = head + (": " + ", ".join(messages) if messages else "")
    if len(line) > limit:
        line = line[: limit - 1].rstrip(" ,") + "…"
    return line


def message_id(report: Dict[str, Any], body: str = "") -> str:
    """<sysreport.<hash>@<host>>: the same host, generated_at and body give the same id.

    The body is in the seed because two runs within one second (the timer and a manual
    `send`) make different reports that must not look like duplicates of each other.
    """
    host = hostname_of(report)
    seed = f"{host}\n{report.get('generated_at', '')}\n{body}".encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(seed).hexdigest()[:24]
    domain = "".join(c for c in host.lower() if c.isascii() and (c.isalnum() or c in "-.")).strip(".")
    return f"<sysreport.{digest}@{domain or 'sysreport.invalid'}>"


def _date(report: Dict[str, Any]) -> str:
    try:
        return formatdate(iso_to_epoch(report.get("generated_at")), usegmt=True)
    except (TypeError, ValueError):
        return formatdate(usegmt=True)


def _addresses(value: Union[None, str, Iterable[str]]) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    return [a for a in (header_value(v) for v in value) if a]


def set_text_header(msg: EmailMessage, name: str, value: str) -> None:
    """A free-text header that keeps every space. For non-ASCII text, CPython's folder
    (3.9-3.13) can split the encoded words at a space and drop it, since whitespace
    between RFC 2047 words is not part of the text; the older Header encoder keeps it
    inside a word, and set_raw() stores its lines as they are (each under 78 columns,
    so the generator does not refold them)."""
    if value.isascii():
        msg[name] = value
    else:
        msg.set_raw(name, Header(value, "utf-8", header_name=name).encode())


def build(report: Dict[str, Any], config: Any, to: Union[None, str, Iterable[str]] = None) -> EmailMessage:
    """The email for one report. `to` (one address or several) replaces config.mail.to."""
    mail_from = setting(config, "mail", "from", "") or setting(config, "smtp", "username", "")
    recipients = _addresses(to) or _addresses(setting(config, "mail", "to", []))
    prefix = setting(config, "mail", "subject_prefix", "[sysreport]")
    msg = EmailMessage()
    set_text_header(msg, "Subject", subject(report, prefix if prefix is not None else "[sysreport]"))
    if mail_from:
        msg["From"] = header_value(mail_from)
    if recipients:
        msg["To"] = ", ".join(recipients)
    msg["Date"] = _date(report)
    body = text.render(report)
    msg["Message-ID"] = message_id(report, body)
    msg["X-Sysreport-Status"] = status_of(report)
    set_text_header(msg, "X-Sysreport-Host", header_value(hostname_of(report)))
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body, subtype="plain", charset="utf-8")
    msg.add_alternative(html.render(report), subtype="html", charset="utf-8")
    return msg
