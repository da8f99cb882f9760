"""The `sysreport` command: a thin front door onto collect -> judge -> render -> deliver.

    $ sysreport collect --format text
    $ sysreport send                  # what the systemd timer runs daily
    $ sysreport check-config --config /etc/sysreport/sysreport.toml

Exit codes: 0 ok/delivered, 1 internal error, 2 usage, 75 kept in the outbox for a
retry (EX_TEMPFAIL), 78 configuration error (EX_CONFIG). Logs go to stderr, one line
each, "LEVEL message" (journald adds the time; under journald the lines carry <N>
priority prefixes instead). Heavy imports (email, yagmail, the API) happen inside the
command that needs them, so `collect` stays cheap.
"""

from __future__ import annotations

import argparse
import os
import sys

from sysreport import __version__
from sysreport import config as configuration
from sysreport.config import ConfigError
from sysreport.log import get_logger
from sysreport import log as logs

TYPE_CHECKING = False
if TYPE_CHECKING:  # `typing` costs ~2 ms at start-up; annotations stay strings here
    from typing import Any, Callable, Dict, List, Optional

EX_OK = 0
EX_SOFTWARE = 1
EX_USAGE = 2
EX_TEMPFAIL = 75
EX_CONFIG = 78

log = get_logger("sysreport")


# --------------------------------------------------------------------------- arguments

def _address(value: str) -> str:
    problem = configuration.address_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


class _HelpFormatter(argparse.HelpFormatter):
    """argparse asks shutil for the terminal width on every add_argument(), and shutil
    imports bz2, lzma and zlib (~1.5 ms of each `collect`); os knows the width too."""

    def __init__(self, prog: str, **kwargs: Any):
        if kwargs.get("width") is None:
            kwargs["width"] = _terminal_width() - 2
        super().__init__(prog, **kwargs)


def _terminal_width() -> int:
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 80


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="configuration file (default: $SYSREPORT_CONFIG, else %s)"
                        % configuration.DEFAULT_PATH)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log debug detail (and tracebacks of internal errors)")

    parser = _Parser(
        prog="sysreport", parents=[common],
        description="A daily health report of this host, by email.",
        epilog="Exit codes: 0 ok, 1 internal error, 2 usage, 75 kept in the outbox for a "
               "retry, 78 configuration error.")
    parser.add_argument("--version", action="version", version="sysreport " + __version__,
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("collect", parents=[common], help="print the report; send nothing",
                       description="Collect and print the report. Sends nothing and does "
                                   "not touch the history.")
    p.add_argument("--format", choices=("text", "json", "html"), default="text",
                   help="output format (default: text)")

    p = sub.add_parser("send", parents=[common], help="collect, remember, queue and deliver",
                       description="Build the report, save it to the history, queue the "
                                   "message in the outbox, then deliver the outbox oldest "
                                   "first. What the daily timer runs.")
    p.add_argument("--dry-run", action="store_true",
                   help="print the headers and text of the message that would be sent; "
                        "touch nothing (no history, no outbox, no network)")
    p.add_argument("--to", metavar="ADDR", action="append", type=_address, default=[],
                   help="send to ADDR instead of mail.to (repeat for several)")
    p.add_argument("--wait", metavar="SECONDS", type=float, default=60.0,
                   help="how long to wait for another run's lock before giving up with "
                        "exit 75 (default: 60)")

    p = sub.add_parser("flush", parents=[common], help="retry the outbox only",
                       description="Deliver what is queued in the outbox; build no report.")
    p.add_argument("--wait", metavar="SECONDS", type=float, default=60.0,
                   help="how long to wait for another run's lock (default: 60)")

    sub.add_parser("check-config", parents=[common], help="validate the configuration file",
                   description="Validate the configuration: every problem, one per line, "
                               "as 'PATH: section.key: what to fix'. Exit 0 or 78.")

    sub.add_parser("test-smtp", parents=[common], help="log in to the SMTP server, send nothing",
                   description="Connect, start TLS, log in and quit. Sends nothing.")

    p = sub.add_parser("preview", parents=[common], help="write report.html and report.eml",
                       description="Write the report as DIR/report.html and the whole "
                                   "message as DIR/report.eml. Sends nothing.")
    p.add_argument("--output", metavar="DIR", required=True, help="directory to write into")

    p = sub.add_parser("digest", parents=[common], help="send the fleet digest",
                       description="Render (and send) one digest of many hosts' reports.")
    p.add_argument("--input", metavar="FILE", required=True,
                   help="the fleet JSON written by playbooks/fleet_report.yml")
    p.add_argument("--dry-run", action="store_true", help="print the digest; send nothing")
    p.add_argument("--output", metavar="DIR", help="write digest.html and digest.eml to DIR; "
                                                   "send nothing")
    p.add_argument("--to", metavar="ADDR", action="append", type=_address, default=[],
                   help="send to ADDR instead of mail.to (repeat for several)")

    p = sub.add_parser("serve", parents=[common], help="run the HTTP API (extra: api)",
                       description="Serve the report over HTTP (needs sysreport[api]).")
    p.add_argument("--listen", metavar="ADDR", help="address to listen on (default: api.listen)")
    p.add_argument("--port", metavar="N", type=int, help="port (default: api.port)")
    return parser


# --------------------------------------------------------------------------- commands

def _load(args: argparse.Namespace, need_file: bool) -> configuration.Section:
    """need_file: the command needs mail settings, so built-in defaults will not do."""
    return configuration.load(getattr(args, "config", None), require_file=need_file)


def _check_sending(cfg: configuration.Section, to: Optional[List[str]] = None,
                   need_recipients: bool = True) -> None:
    problems = configuration.sending_problems(cfg, to, need_recipients)
    if problems:
        raise ConfigError(problems)


def cmd_collect(args: argparse.Namespace) -> int:
    from sysreport import report

    cfg = _load(args, need_file=False)
    document = report.build(cfg)
    _write_stdout(_render(args.format, document))
    return EX_OK


def _render(fmt: str, document: Dict[str, Any]) -> str:
    if fmt == "json":
        from sysreport.render import json as renderer
    elif fmt == "html":
        from sysreport.render import html as renderer  # type: ignore[no-redef]
    else:
        from sysreport.render import text as renderer  # type: ignore[no-redef]
    out = renderer.render(document)
    return out if out.endswith("\n") else out + "\n"


def _write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def cmd_send(args: argparse.Namespace) -> int:
    if args.dry_run:
        return _send_dry_run(args)
    from sysreport.deliver import lock
    from sysreport.deliver.smtp import credentials

    cfg = _load(args, need_file=True)
    _check_sending(cfg, args.to)
    password = credentials(cfg)        # before anything is built: 78 if there is none
    try:
        # the lock is re-entrant in this process: LockBusy can only come from taking it
        with lock.locked(cfg.state.directory, args.wait):
            return _send_locked(cfg, args, password)
    except lock.LockBusy as exc:
        return _queue_while_locked(cfg, args, exc)


def _send_locked(cfg: configuration.Section, args: argparse.Namespace,
                 password: Optional[str]) -> int:
    """Build and remember the report, queue it, deliver the outbox, note the outcome."""
    from sysreport import deliver, report, status_file
    from sysreport.deliver.outbox import Unqueued

    state = cfg.state.directory
    document = report.build(cfg, remember=True)
    msg = _mail_for(document, cfg, args)
    entry = unqueued = None
    if msg is None:
        log.info("status OK and report.only_when_not_ok is set: no mail for this report")
    else:
        try:
            entry = deliver.outbox_for(cfg).add(msg)
            log.debug("queued %s (%s)", entry.message_id, document.get("status"))
        except OSError as exc:    # a full disk: the day this report matters most
            unqueued = entry = Unqueued(msg)
            log.error("the outbox cannot keep %s (%s): sending it from memory",
                      entry.message_id, exc.strerror or exc)
    outcome = deliver.flush(cfg, args.wait, password, unqueued)
    if entry is None:
        sent = "skipped"
    elif entry.message_id in outcome.delivered:
        sent = "delivered"
    else:
        sent = "queued"
    try:
        status_file.write(state, document, sent, outcome.kept, outcome.exit_code)
    except OSError as exc:
        log.warning("%s not updated: %s", status_file.NAME, exc.strerror or exc)
    if outcome.kept:
        log.warning("%d message(s) kept in %s for the next run", outcome.kept,
                    deliver.outbox_for(cfg).directory)
    return outcome.exit_code


def _queue_while_locked(cfg: configuration.Section, args: argparse.Namespace,
                        busy: Exception) -> int:
    """Another run holds the lock (a slow server, a manual flush): queue this report all
    the same (an outbox write is atomic and needs no lock) for that run's next flush or
    the next run; no history, which the other run may be writing. Exit 75."""
    from sysreport import deliver, report

    msg = _mail_for(report.build(cfg), cfg, args)
    if msg is None:
        log.warning("%s; status OK and report.only_when_not_ok is set: nothing to queue", busy)
        return EX_TEMPFAIL
    entry = deliver.outbox_for(cfg).add(msg)
    log.warning("%s; this report is queued as %s for the next delivery", busy, entry.message_id)
    return EX_TEMPFAIL


def _mail_for(document: Dict[str, Any], cfg: configuration.Section,
              args: argparse.Namespace) -> Optional[bytes]:
    """The message this report makes, or None: an OK report with report.only_when_not_ok."""
    from sysreport.render import message

    if cfg.report.only_when_not_ok and document.get("status") == "OK":
        return None
    return message.build(document, cfg, to=args.to or None).as_bytes()


def _send_dry_run(args: argparse.Namespace) -> int:
    from sysreport import report
    from sysreport.render import message

    cfg = _load(args, need_file=False)
    document = report.build(cfg)
    msg = message.build(document, cfg, to=args.to or None)
    if not msg.get("To"):
        log.warning("no recipients: set mail.to or pass --to")
    lines = ["%s: %s" % (name, value) for name, value in msg.items()
             if name.lower() not in ("content-type", "mime-version", "content-transfer-encoding")]
    text = msg.get_body(("plain",))
    body = text.get_content() if text is not None else ""
    _write_stdout("\n".join(lines) + "\n\n" + body + ("" if body.endswith("\n") else "\n"))
    log.info("dry run: nothing sent, nothing saved")
    return EX_OK


def cmd_flush(args: argparse.Namespace) -> int:
    from sysreport import deliver
    from sysreport.deliver.smtp import credentials

    cfg = _load(args, need_file=True)
    _check_sending(cfg, need_recipients=False)   # queued messages carry their To:
    password = credentials(cfg)
    outcome = deliver.flush(cfg, args.wait, password)
    if outcome.kept:
        log.warning("%d message(s) kept in %s for the next run", outcome.kept,
                    deliver.outbox_for(cfg).directory)
    elif not outcome.delivered:
        log.info("outbox empty: nothing to send")
    return outcome.exit_code


def cmd_check_config(args: argparse.Namespace) -> int:
    path, _ = configuration.resolve_path(getattr(args, "config", None))
    data, where, problems = configuration.read(path, require_file=True)
    if not problems:
        problems = configuration.validate(data, where, for_sending=True)
    if problems:
        _write_stdout("\n".join(problems) + "\n")
        return EX_CONFIG
    _write_stdout("%s: OK\n" % path)
    return EX_OK


def cmd_test_smtp(args: argparse.Namespace) -> int:
    from sysreport import deliver
    from sysreport.deliver.smtp import server_name

    cfg = _load(args, need_file=True)
    _check_sending(cfg, need_recipients=False)
    outcome = deliver.test_smtp(cfg)
    if outcome.exit_code == EX_OK:
        log.info("logged in to %s as %s; sent nothing", server_name(cfg),
                 cfg.smtp.username or "(OAuth2)")
    return outcome.exit_code


def cmd_preview(args: argparse.Namespace) -> int:
    from sysreport import report
    from sysreport.atomic import write_files
    from sysreport.render import html, message

    cfg = _load(args, need_file=False)
    document = report.build(cfg)
    msg = message.build(document, cfg)
    written = write_files(args.output, {"report.html": html.render(document).encode("utf-8"),
                                        "report.eml": msg.as_bytes()})
    return EX_OK if written else EX_SOFTWARE


def cmd_digest(args: argparse.Namespace) -> int:
    try:
        from sysreport import digest
    except ImportError as exc:
        log.error("digest is not available in this installation (%s); reinstall sysreport", exc)
        return EX_SOFTWARE
    return digest.run(_load(args, need_file=False), args)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from sysreport.api import server
    except ImportError as exc:
        log.error("serve needs the API extra (%s): pip install 'sysreport[api]' "
                  "(fastapi, uvicorn)", exc)
        return EX_CONFIG
    return server.run(_load(args, need_file=False), args.listen, args.port)


COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "collect": cmd_collect,
    "send": cmd_send,
    "flush": cmd_flush,
    "check-config": cmd_check_config,
    "test-smtp": cmd_test_smtp,
    "preview": cmd_preview,
    "digest": cmd_digest,
    "serve": cmd_serve,
}


# --------------------------------------------------------------------------- main

def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(getattr(args, "verbose", False))
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        for line in exc.problems:
            log.error("%s", line)
        return EX_CONFIG
    except BrokenPipeError:
        # `sysreport collect | head`: the reader has what it wanted. Point stdout at
        # /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EX_OK
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, exit 1
        from sysreport.deliver.lock import LockBusy

        if isinstance(exc, LockBusy):
            log.error("%s", exc)
            return EX_TEMPFAIL
        log.error("internal error: %s: %s%s", type(exc).__name__, exc,
                  "" if logs.verbose() else " (--verbose shows the traceback)",
                  exc_info=True)
        return EX_SOFTWARE


if __name__ == "__main__":
    sys.exit(main())
