"""Who and what this host is, and since when it runs.

    {"hostname": "web-01", "fqdn": "web-01.example.com", "os": "Debian GNU/Linux 12 (bookworm)",
     "kernel": "6.1.0-28-amd64", "boot_time": "2026-11-20T06:02:11+00:00", "uptime_seconds": 1148273}
"""

from __future__ import annotations

import os
import socket
import time

import psutil

from ..units import epoch_to_iso
from ._util import bounded, setting

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any

OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
FQDN_TIMEOUT = 2.0


def os_pretty_name(paths: tuple = OS_RELEASE) -> str:
    """PRETTY_NAME from os-release (shell-style quoting), "" when none is readable."""
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    key, sep, value = line.strip().partition("=")
                    if sep and key == "PRETTY_NAME":
                        value = value.strip()
                        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                            value = value[1:-1]
                        return value.replace('\\"', '"').replace("\\\\", "\\")
        except OSError:
            continue
    return ""


def fqdn(hostname: str, timeout: float = FQDN_TIMEOUT) -> str:
    """The canonical name as `hostname -f` finds it; the hostname itself when that fails.

    One getaddrinfo() call (socket.getfqdn() adds a reverse lookup on top), bounded:
    with a dead DNS server the resolver would retry for many seconds.
    """
    if "." in hostname:
        return hostname
    try:
        # bytes: a str goes through the idna codec, whose import costs ~1 ms of `collect`
        name = hostname.encode("ascii")
    except UnicodeEncodeError:
        name = hostname
    try:
        info = bounded(lambda: socket.getaddrinfo(name, None, 0, socket.SOCK_DGRAM, 0,
                                                  socket.AI_CANONNAME),
                       timeout, "getaddrinfo")
    except (OSError, UnicodeError, TimeoutError):
        return hostname
    for entry in info:
        if entry[3]:
            return entry[3]
    return hostname


def collect(config: Any) -> dict:
    hostname = setting(config, "report", "hostname", "") or socket.gethostname()
    boot = psutil.boot_time()
    return {
        "hostname": hostname,
        "fqdn": fqdn(hostname),
        "os": os_pretty_name() or "Linux",
        "kernel": os.uname().release,
        "boot_time": epoch_to_iso(boot),
        "uptime_seconds": max(0, int(time.time() - boot)),
    }
