"""<state>/last-status.json: what the last `sysreport send` found and whether it got out.

    {"generated_at": "2026-12-03T13:00:04+00:00", "status": "WARN",
     "problems": [{"severity": "WARN", "section": "filesystems", "subject": "/",
                   "message": "/ 83% full"}],
     "delivered": true, "sent": "delivered", "outbox": 0, "exit_code": 0}

"sent" says what happened to this report's message: "delivered", "queued" (kept in the
outbox for the next run), "skipped" (OK and report.only_when_not_ok). The role's local
fact /etc/ansible/facts.d/sysreport.fact reads this file; written atomically.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict

from sysreport.atomic import write_atomic

NAME = "last-status.json"


def write(state_dir: str, report: Dict[str, Any], sent: str, outbox: int,
          exit_code: int) -> str:
    document = {
        "generated_at": report.get("generated_at"),
        "status": report.get("status"),
        "problems": report.get("problems") or [],
        "delivered": sent == "delivered",
        "sent": sent,
        "outbox": outbox,
        "exit_code": exit_code,
    }
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    data = (json.dumps(document, indent=2, sort_keys=False) + "\n").encode("utf-8")
    return write_atomic(state_dir, NAME, data, mode=0o644)


def read(state_dir: str) -> Dict[str, Any]:
    with open(os.path.join(state_dir, NAME), encoding="utf-8") as handle:
        return json.load(handle)
