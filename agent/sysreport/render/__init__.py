"""Renderers of the report document: text, html, json and the email message.

Every value that comes from the host (names, mount points, command lines...) passes
through visible() before it is shown: control characters, line separators, bidi
overrides and undecodable bytes become visible escapes, so no host value can break
a line, a table or a header.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any, Dict

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0", "\x1b": "\\e"}
_TABLE: Dict[int, str] = {}


def _table() -> Dict[int, str]:
    if not _TABLE:
        codes = list(range(0x00, 0x20)) + list(range(0x7F, 0xA0))
        codes += [0x2028, 0x2029]                      # line and paragraph separators
        codes += list(range(0x202A, 0x202F))           # bidi embeddings and overrides
        codes += list(range(0x2066, 0x206A)) + [0x200E, 0x200F, 0xFEFF]
        for code in codes:
            ch = chr(code)
            _TABLE[code] = _NAMED.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        for code in range(0xD800, 0xE000):             # surrogates: undecodable bytes
            _TABLE[code] = f"\\u{code:04x}"
    return _TABLE


def visible(value: Any) -> str:
    """A host value as one safe line: "a\\nb" -> 'a\\\\nb', None -> ''."""
    if value is None:
        return ""
    return str(value).translate(_table())


def status_of(report: Dict[str, Any]) -> str:
    status = report.get("status")
    return status if status in ("OK", "WARN", "CRIT") else "UNKNOWN"


def hostname_of(report: Dict[str, Any]) -> str:
    host = report.get("host") or {}
    return str(host.get("hostname") or "unknown host")


# Container-side ends of virtual Ethernet pairs: one per container on a Docker or
# Kubernetes host, dozens of lines that say nothing one by one. The email shows their
# sum on one line; the JSON keeps each.
VETH_PREFIX = "veth"
_COUNTERS = ("bytes_sent", "bytes_recv", "packets_sent", "packets_recv", "errin", "errout",
             "dropin", "dropout")


def network_rows(nics: Any) -> Any:
    """The interfaces as the email shows them: veth* summed into one row, "veth* (N)"."""
    plain = [n for n in nics if not str(n.get("interface", "")).startswith(VETH_PREFIX)]
    veths = [n for n in nics if str(n.get("interface", "")).startswith(VETH_PREFIX)]
    if len(veths) < 2:
        return list(nics)
    total = {"interface": "%s* (%d)" % (VETH_PREFIX, len(veths))}
    for key in _COUNTERS:
        total[key] = sum(n.get(key) or 0 for n in veths
                         if isinstance(n.get(key), (int, float)))
    return plain + [total]
