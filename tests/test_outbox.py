"""The outbox on a real file system: durable, ordered, deduplicated, bounded."""

from __future__ import annotations

import datetime
import logging
import os
import re
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from sysreport.deliver import lock
from sysreport.deliver.outbox import Outbox, ensure_message_id, key_for

NOW = datetime.datetime(2026, 12, 3, 13, 0, 4, tzinfo=datetime.timezone.utc)


def message(subject: str, message_id: str = "") -> bytes:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = "a@example.com"
    msg["To"] = "b@example.com, Name <c@example.com>"
    msg["Cc"] = "d@example.com"
    if message_id is not None:
        msg["Message-ID"] = message_id or make_msgid(domain="test.example")
    msg.set_content("body of %s\n" % subject)
    return msg.as_bytes()


def test_add_writes_a_whole_file_named_by_time_and_message_id(tmp_path):
    box = Outbox(str(tmp_path))
    data = message("one", "<one@test.example>")
    entry = box.add(data, now=NOW)
    assert re.fullmatch(r"20261203T130004\.000000Z-[0-9a-f]{16}\.eml", entry.name)
    assert entry.key == key_for("<one@test.example>")
    assert open(entry.path, "rb").read() == data
    assert entry.message_id == "<one@test.example>"
    assert entry.recipients() == ["b@example.com", "c@example.com", "d@example.com"]
    assert sorted(os.listdir(box.directory)) == [entry.name]   # no temp file left
    assert oct(os.stat(box.directory).st_mode & 0o777) == oct(0o700)


def test_the_same_message_is_never_queued_twice(tmp_path):
    box = Outbox(str(tmp_path))
    first = box.add(message("one", "<same@test.example>"), now=NOW)
    again = box.add(message("one again", "<same@test.example>"),
                    now=NOW + datetime.timedelta(hours=1))
    assert again.path == first.path
    assert len(box.entries()) == 1


def test_entries_are_oldest_first(tmp_path):
    box = Outbox(str(tmp_path))
    for hours, name in ((5, "newest"), (1, "oldest"), (3, "middle")):
        box.add(message(name), now=NOW + datetime.timedelta(hours=hours))
    subjects = [e.headers()["Subject"] for e in box.entries()]
    assert subjects == ["oldest", "middle", "newest"]


def test_a_message_without_message_id_gets_one(tmp_path):
    data = message("anonymous", message_id=None)
    fixed, message_id = ensure_message_id(data)
    assert message_id.startswith("<") and fixed.startswith(b"Message-ID: " + message_id.encode())
    entry = Outbox(str(tmp_path)).add(data)
    assert entry.message_id.startswith("<")


def test_prune_drops_by_age_and_count_and_logs_each(tmp_path, caplog):
    box = Outbox(str(tmp_path), max_messages=2, max_age_days=14)
    box.add(message("ancient", "<ancient@t>"), now=NOW - datetime.timedelta(days=15))
    for i in range(4):
        box.add(message("m%d" % i, "<m%d@t>" % i), now=NOW - datetime.timedelta(days=3 - i))
    with caplog.at_level(logging.WARNING, logger="sysreport.outbox"):
        dropped = box.prune(now=NOW)
    assert [e.message_id for e in dropped] == ["<ancient@t>", "<m0@t>", "<m1@t>"]
    assert [e.message_id for e in box.entries()] == ["<m2@t>", "<m3@t>"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert "<ancient@t>" in lines[0] and "older than 14 days" in lines[0]
    assert "2026-11-18T13:00:04Z" in lines[0]          # when it was queued
    assert "<m0@t>" in lines[1] and "state.outbox_max_messages" in lines[1]


def test_prune_within_bounds_drops_nothing(tmp_path, caplog):
    box = Outbox(str(tmp_path), max_messages=3, max_age_days=14)
    for i in range(3):
        box.add(message("m%d" % i), now=NOW - datetime.timedelta(days=i))
    with caplog.at_level(logging.WARNING):
        assert box.prune(now=NOW) == []
    assert len(box.entries()) == 3 and caplog.records == []


def test_stale_temp_files_are_removed_and_fresh_ones_ignored(tmp_path):
    box = Outbox(str(tmp_path))
    box.add(message("real"), now=NOW)
    stale = os.path.join(box.directory, ".tmp-stale")
    fresh = os.path.join(box.directory, ".tmp-fresh")
    for path in (stale, fresh):
        with open(path, "wb") as handle:
            handle.write(b"half a message")
    old = NOW.timestamp() - 7200
    os.utime(stale, (old, old))
    os.utime(fresh, (NOW.timestamp(), NOW.timestamp()))
    assert len(box.entries()) == 1                   # temp files are never messages
    box.prune(now=NOW)
    assert not os.path.exists(stale) and os.path.exists(fresh)


def test_foreign_files_are_ignored(tmp_path):
    box = Outbox(str(tmp_path))
    os.makedirs(box.directory)
    open(os.path.join(box.directory, "notes.txt"), "w").close()
    assert box.entries() == []


def test_remove(tmp_path):
    box = Outbox(str(tmp_path))
    entry = box.add(message("x"))
    box.remove(entry)
    assert box.entries() == []


def test_lock_is_reentrant_in_one_process_and_exclusive_across(tmp_path):
    import subprocess
    import sys
    with lock.locked(str(tmp_path), wait=0):
        with lock.locked(str(tmp_path), wait=0):   # same process: no deadlock
            pass
        code = ("import sys; from sysreport.deliver import lock\n"
                "try:\n"
                "    with lock.locked(sys.argv[1], wait=0.2): sys.exit(0)\n"
                "except lock.LockBusy as e: print(e); sys.exit(75)\n")
        other = subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                               capture_output=True, text=True, timeout=30)
        assert other.returncode == 75
        assert "(pid %d)" % os.getpid() in other.stdout
    free = subprocess.run([sys.executable, "-c", code, str(tmp_path)], timeout=30)
    assert free.returncode == 0


@pytest.mark.parametrize("line_ends", [b"\n", b"\r\n"])
def test_crlf_on_the_wire(line_ends):
    from sysreport.deliver.smtp import crlf
    data = b"Subject: x" + line_ends + line_ends + b"a" + line_ends + b"b\rc" + line_ends
    assert crlf(data) == b"Subject: x\r\n\r\na\r\nb\r\nc\r\n"
