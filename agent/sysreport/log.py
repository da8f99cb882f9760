"""The agent's log: stderr, one line per message, in a form journald shows well.

    WARNING history: skipping 20261203T130000Z.json: not JSON      (a terminal)
    <4>history: skipping 20261203T130000Z.json: not JSON           (under journald)

`collect` on a healthy host logs nothing, and importing the standard `logging` package
(it pulls in traceback, string, weakref, ...) costs about 3 ms of a ~50 ms run. So the
agent's modules take a `Logger` from here, and `logging` is imported, and set up, by
the first message that is actually emitted.
"""

from __future__ import annotations

import os
import sys

_verbose = False
_wanted = False       # the CLI asked for our stderr handler
_installed = False


def configure(verbose: bool) -> None:
    """Called once by the CLI. Library users (the Ansible module, tests) keep theirs."""
    global _verbose, _wanted
    _verbose = verbose
    _wanted = True


def verbose() -> bool:
    return _verbose


class Logger:
    """The four calls the agent makes, forwarded to `logging.getLogger(name)`."""

    def __init__(self, name: str):
        self.name = name

    def debug(self, msg, *args, **kwargs) -> None:
        if _verbose or not _wanted:
            _stdlib(self.name).debug(msg, *args, **kwargs)

    def info(self, msg, *args, **kwargs) -> None:
        _stdlib(self.name).info(msg, *args, **kwargs)

    def warning(self, msg, *args, **kwargs) -> None:
        _stdlib(self.name).warning(msg, *args, **kwargs)

    def error(self, msg, *args, **kwargs) -> None:
        _stdlib(self.name).error(msg, *args, **kwargs)


def get_logger(name: str) -> Logger:
    return Logger(name)


def _stdlib(name: str):
    import logging

    global _installed
    if _wanted and not _installed:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_formatter(logging, _to_journal()))
        root = logging.getLogger()
        root.handlers = [handler]
        root.setLevel(logging.DEBUG if _verbose else logging.INFO)
        _installed = True
    return logging.getLogger(name)


def _formatter(logging, journal: bool):
    priority = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
                logging.CRITICAL: 2}

    class Formatter(logging.Formatter):
        """'LEVEL message' on one line; '<N>message' when stderr goes to journald."""

        def format(self, record) -> str:
            text = record.getMessage()
            if record.exc_info and _verbose:
                text += "\n" + self.formatException(record.exc_info)
            text = _scrub(text)
            lines = text.splitlines() or [""]
            if journal:
                prefix = "<%d>" % priority.get(record.levelno, 6)
            else:
                prefix = record.levelname + " "
            return "\n".join(prefix + line for line in lines)

    return Formatter()


def _scrub(text: str) -> str:
    """Belt and braces: a known secret never reaches the log, whatever formatted it."""
    from .config import known_secrets

    for secret in known_secrets():
        if secret and secret in text:
            text = text.replace(secret, "********")
    return text


def _to_journal() -> bool:
    # systemd sets JOURNAL_STREAM=<dev>:<inode> of the stream it connected
    value = os.environ.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in value.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)
