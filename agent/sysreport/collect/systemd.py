"""Failed systemd units.

    {"failed_units": [{"unit": "nginx.service", "description": "A high performance web server",
                       "active": "failed", "sub": "failed"}]}

systemctl answers in JSON with --output=json on systemd >= 250 (Debian 12, 13); older
versions accept the option but print the plain table, so parse() takes either.
"""

from __future__ import annotations

import os
import subprocess

from ._util import Unavailable

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any, List

COMMAND = ("systemctl", "list-units", "--state=failed", "--no-legend", "--plain",
           "--no-pager", "--output=json")
TIMEOUT = 10.0


def parse(output: str) -> List[dict]:
    """systemctl list-units output (JSON or the plain table) -> failed unit dicts."""
    text = output.strip()
    if not text:
        return []
    if text.startswith("["):
        import json  # only here: the plain answer needs no json module

        return [{"unit": str(u.get("unit", "")), "description": str(u.get("description", "")),
                 "active": str(u.get("active", "")), "sub": str(u.get("sub", ""))}
                for u in json.loads(text) if isinstance(u, dict)]
    units = []
    for line in text.splitlines():
        line = line.strip()
        if line[:1] in ("●", "*"):  # the status bullet, when --plain is ignored
            line = line[1:].strip()
        fields = line.split(None, 4)
        if len(fields) < 4:
            continue
        units.append({"unit": fields[0], "description": fields[4] if len(fields) > 4 else "",
                      "active": fields[2], "sub": fields[3]})
    return units


def collect(config: Any) -> dict:
    if not os.path.isdir("/run/systemd/system"):
        raise Unavailable("systemd not running")
    try:
        done = subprocess.run(COMMAND, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=TIMEOUT,
                              env=dict(os.environ, SYSTEMD_COLORS="0"))
    except FileNotFoundError:
        raise Unavailable("systemctl not found") from None
    except subprocess.TimeoutExpired:
        raise Unavailable(f"systemctl did not answer within {TIMEOUT:g}s") from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise Unavailable(f"systemctl exited {done.returncode}: {err[0] if err else ''}".rstrip(": "))
    return {"failed_units": parse(done.stdout.decode("utf-8", "replace"))}
