"""Deliver rendered messages without ever losing one.

    outcome = send(message_bytes, config)   # queue in <state>/outbox, then flush it
    outcome = flush(config)                 # retry what is queued, oldest first
    outcome = test_smtp(config)             # connect + log in + quit, send nothing

Each returns an Outcome whose exit_code is 0 (all delivered), 75 (kept for the next
run) or 78 (kept; a human must fix the configuration first). ConfigError (no password,
a bad OAuth2 file) and lock.LockBusy propagate to the caller.
"""

from __future__ import annotations

from typing import List, Optional

from sysreport.config import Section
from sysreport.deliver import lock
from sysreport.deliver.failures import Failure
from sysreport.deliver.outbox import Entry, Outbox, Unqueued
from sysreport.log import get_logger

log = get_logger("sysreport.deliver")

DEFAULT_LOCK_WAIT = 60.0


class Outcome:
    def __init__(self, exit_code: int = 0, delivered: Optional[List[str]] = None,
                 kept: int = 0, failure: Optional[Failure] = None):
        self.exit_code = exit_code
        self.delivered = delivered or []      # Message-IDs accepted by the server
        self.kept = kept                      # messages still in the outbox
        self.failure = failure

    def __repr__(self) -> str:
        return "Outcome(exit_code=%r, delivered=%r, kept=%r)" % (self.exit_code, self.delivered,
                                                                 self.kept)


def outbox_for(config: Section) -> Outbox:
    return Outbox(config.state.directory, config.state.outbox_max_messages,
                  config.state.outbox_max_age_days)


def enqueue(message: bytes, config: Section) -> Entry:
    with lock.locked(config.state.directory, DEFAULT_LOCK_WAIT):
        return outbox_for(config).add(message)


def send(message: bytes, config: Section, wait: float = DEFAULT_LOCK_WAIT) -> Outcome:
    with lock.locked(config.state.directory, wait):
        outbox_for(config).add(message)
        return flush(config, wait)


def flush(config: Section, wait: float = DEFAULT_LOCK_WAIT,
          password: Optional[str] = None, unqueued: Optional[Unqueued] = None) -> Outcome:
    """Deliver the outbox oldest first, then `unqueued`: a message the outbox could not
    store, sent from memory (and lost, said so, when that fails)."""
    from sysreport.deliver.smtp import Session, SMTPFailure

    with lock.locked(config.state.directory, wait):
        box = outbox_for(config)
        box.prune()
        entries = box.entries() + ([unqueued] if unqueued is not None else [])
        if not entries:
            log.debug("outbox: empty")
            return Outcome(0)
        log.debug("outbox: %d message(s) to send", len(entries))
        session = Session(config, password)
        try:
            session.open()
        except SMTPFailure as exc:
            kept = len(entries) - (unqueued is not None)
            log.error("%s (%d message(s) kept)", exc.failure.line(), kept)
            _lost(unqueued)
            return Outcome(exc.failure.exit_code, kept=kept, failure=exc.failure)
        delivered: List[str] = []
        worst: Optional[Failure] = None
        try:
            for entry in entries:
                message_id = entry.message_id or entry.name
                recipients = entry.recipients()
                if not recipients:
                    log.error("outbox: %s has no To: or Cc: recipients; kept as %s",
                              message_id, entry.path)
                    continue
                try:
                    refused = session.send(entry.read(), recipients)
                except SMTPFailure as exc:
                    worst = _worse(worst, exc.failure)
                    log.error("not delivered %s: %s", message_id, exc.failure.line())
                    if exc.failure.per_message and session.alive():
                        continue
                    break
                if refused:
                    log.warning("delivered %s, but the server refused %s", message_id,
                                ", ".join(sorted(refused)))
                if entry is not unqueued:
                    box.remove(entry)
                delivered.append(message_id)
                log.info("delivered %s to %s", message_id, ", ".join(recipients))
        finally:
            session.close()
        kept = len(box.entries())
        lost = unqueued is not None and (unqueued.message_id or unqueued.name) not in delivered
        if lost:
            _lost(unqueued)
        if (kept or lost) and worst is None:   # only messages without recipients remain
            worst = Failure("config", 78, "outbox: messages without recipients")
        return Outcome(worst.exit_code if (worst and (kept or lost)) else 0, delivered, kept,
                       worst)


def _lost(unqueued: Optional[Unqueued]) -> None:
    if unqueued is not None:
        log.error("%s is lost: the outbox could not store it and the server did not take it; "
                  "free space in the state directory", unqueued.message_id)


def test_smtp(config: Section) -> Outcome:
    """Connect, log in and quit; nothing is sent."""
    from sysreport.deliver.smtp import Session, SMTPFailure

    try:
        with Session(config):
            pass
    except SMTPFailure as exc:
        log.error("%s", exc.failure.line())
        return Outcome(exc.failure.exit_code, failure=exc.failure)
    return Outcome(0)


def _worse(a: Optional[Failure], b: Failure) -> Failure:
    if a is None or b.exit_code == 78:
        return b
    return a
