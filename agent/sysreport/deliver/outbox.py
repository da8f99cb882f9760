"""<state>/outbox/: every message is written here before any attempt to send it.

    20261203T130004.123456Z-3f1c9a0b5e2d4c71.eml   (enqueued at, hash of the Message-ID)

A file appears whole or not at all (temp file, fsync, rename, fsync of the directory),
is removed only after the server accepted it, and keeps its Message-ID, so a message
sent twice is recognisable and the same message is never queued twice. The outbox is
bounded by count and age; what is dropped is logged with its Message-ID and date.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import socket
from email.parser import BytesHeaderParser
from email.utils import getaddresses, make_msgid
from typing import List, Optional, Tuple

from sysreport.atomic import TEMP_PREFIX, sync_directory, write_atomic
from sysreport.log import get_logger

log = get_logger("sysreport.outbox")

_NAME = re.compile(r"^(\d{8}T\d{6}\.\d{6}Z)-([0-9a-f]{16})\.eml$")
_STAMP = "%Y%m%dT%H%M%S.%fZ"


class Entry:
    def __init__(self, path: str, queued_at: datetime.datetime, key: str):
        self.path = path
        self.queued_at = queued_at
        self.key = key
        self._headers = None

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def read(self) -> bytes:
        with open(self.path, "rb") as handle:
            return handle.read()

    def headers(self):
        if self._headers is None:
            with open(self.path, "rb") as handle:
                self._headers = BytesHeaderParser().parse(handle)
        return self._headers

    @property
    def message_id(self) -> str:
        return str(self.headers().get("Message-ID", "")).strip()

    def recipients(self) -> List[str]:
        headers = self.headers()
        fields = [str(v) for h in ("To", "Cc") for v in headers.get_all(h, [])]
        return [addr for _, addr in getaddresses(fields) if addr]

    def __repr__(self) -> str:
        return "Entry(%r)" % self.name


class Unqueued(Entry):
    """A message the outbox could not store (its disk is full): delivered from memory, and
    lost if that fails too, the one case the outbox cannot prevent. The day /var fills up
    is the day its report matters most."""

    def __init__(self, message: bytes):
        message, _ = ensure_message_id(message)
        super().__init__("(memory)", datetime.datetime.now(datetime.timezone.utc), "")
        self._message = message

    def read(self) -> bytes:
        return self._message

    def headers(self):
        if self._headers is None:
            self._headers = BytesHeaderParser().parsebytes(self._message)
        return self._headers


def key_for(message_id: str) -> str:
    return hashlib.sha256(message_id.strip().encode("utf-8")).hexdigest()[:16]


def ensure_message_id(message: bytes, domain: Optional[str] = None) -> Tuple[bytes, str]:
    """(message, Message-ID); adds a Message-ID header when the message has none."""
    headers = BytesHeaderParser().parsebytes(message)
    message_id = str(headers.get("Message-ID", "")).strip()
    if message_id:
        return message, message_id
    message_id = make_msgid(domain=domain or socket.gethostname() or "localhost")  # no DNS
    return ("Message-ID: %s\r\n" % message_id).encode("ascii") + message, message_id


class Outbox:
    def __init__(self, state_dir: str, max_messages: int = 30, max_age_days: float = 14):
        self.directory = os.path.join(state_dir, "outbox")
        self.max_messages = max_messages
        self.max_age_days = max_age_days

    def entries(self) -> List[Entry]:
        """Queued messages, oldest first."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            match = _NAME.match(name)
            if not match:
                continue
            queued = datetime.datetime.strptime(match.group(1), _STAMP).replace(
                tzinfo=datetime.timezone.utc)
            found.append(Entry(os.path.join(self.directory, name), queued, match.group(2)))
        found.sort(key=lambda e: (e.queued_at, e.name))
        return found

    def add(self, message: bytes, now: Optional[datetime.datetime] = None) -> Entry:
        """Queue a message durably; a message whose Message-ID is already queued is not
        queued twice (the queued entry is returned)."""
        message, message_id = ensure_message_id(message)
        key = key_for(message_id)
        for entry in self.entries():
            if entry.key == key:
                log.info("outbox: %s is already queued as %s", message_id, entry.name)
                return entry
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        now = now or datetime.datetime.now(datetime.timezone.utc)
        name = "%s-%s.eml" % (now.astimezone(datetime.timezone.utc).strftime(_STAMP), key)
        write_atomic(self.directory, name, message)
        log.debug("outbox: queued %s as %s", message_id, name)
        return Entry(os.path.join(self.directory, name),
                     now.astimezone(datetime.timezone.utc), key)

    def remove(self, entry: Entry) -> None:
        os.unlink(entry.path)
        sync_directory(self.directory)

    def prune(self, now: Optional[datetime.datetime] = None) -> List[Entry]:
        """Drop messages beyond the age and count bounds (and stale temp files); log each."""
        now = now or datetime.datetime.now(datetime.timezone.utc)
        entries = self.entries()
        dropped = []
        oldest_allowed = now - datetime.timedelta(days=self.max_age_days)
        keep = []
        for entry in entries:
            if entry.queued_at < oldest_allowed:
                self._drop(entry, "older than %g days (state.outbox_max_age_days)"
                           % self.max_age_days)
                dropped.append(entry)
            else:
                keep.append(entry)
        excess = len(keep) - self.max_messages
        for entry in keep[:max(excess, 0)]:
            self._drop(entry, "more than %d messages queued (state.outbox_max_messages)"
                       % self.max_messages)
            dropped.append(entry)
        self._remove_stale_temp_files(now)
        return dropped

    def _drop(self, entry: Entry, why: str) -> None:
        message_id = entry.message_id or "(no Message-ID)"
        date = str(entry.headers().get("Date", "")) or entry.queued_at.isoformat()
        log.warning("outbox: dropped undelivered message %s dated %s, queued %s: %s",
                    message_id, date, entry.queued_at.strftime("%Y-%m-%dT%H:%M:%SZ"), why)
        with _ignored():
            os.unlink(entry.path)
        sync_directory(self.directory)

    def _remove_stale_temp_files(self, now: datetime.datetime) -> None:
        # a crash between mkstemp and rename leaves a temp file; it never became a message
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return
        for name in names:
            if name.startswith(TEMP_PREFIX):
                path = os.path.join(self.directory, name)
                with _ignored():
                    if now.timestamp() - os.stat(path).st_mtime > 3600:
                        os.unlink(path)


class _ignored:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        return exc_type is not None and issubclass(exc_type, OSError)
