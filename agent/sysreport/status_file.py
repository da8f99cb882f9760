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
import tempfile
from typing import Any, Dict

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
    path = os.path.join(state_dir, NAME)
    fd, tmp = tempfile.mkstemp(prefix=".last-status-", dir=state_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, sort_keys=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def read(state_dir: str) -> Dict[str, Any]:
    with open(os.path.join(state_dir, NAME), encoding="utf-8") as handle:
        return json.load(handle)
