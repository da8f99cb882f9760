"""The report document as JSON (schema_version first, ASCII-safe, one trailing newline)."""

from __future__ import annotations

import json as _json

from ..collect import SCHEMA_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any, Dict


def render(report: Dict[str, Any], indent: int = 2) -> str:
    doc = {"schema_version": report.get("schema_version", SCHEMA_VERSION)}
    doc.update((k, v) for k, v in report.items() if k != "schema_version")
    # ensure_ascii: a process name with undecodable bytes (lone surrogates) stays valid.
    return _json.dumps(doc, indent=indent, ensure_ascii=True) + "\n"
