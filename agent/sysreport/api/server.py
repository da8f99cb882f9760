"""`sysreport serve`: run the API with uvicorn (one process, h11, no access log).

Importable without the `api` extra: FastAPI and uvicorn are imported inside run(), so a
host without them gets one line saying what to install instead of a traceback.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
from typing import Any, Optional

from sysreport.api.auth import CREDENTIAL_NAME, TokenError, load_token

EX_OK = 0
EX_SOFTWARE = 1
EX_CONFIG = 78

log = logging.getLogger("sysreport.api")


def _bind(listen: str, port: int) -> socket.socket:
    """A bound socket, so that a busy port or a bad address is a one-line error here
    rather than a traceback inside uvicorn."""
    family, kind, proto, _, address = socket.getaddrinfo(
        listen, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run(config: Any, listen: Optional[str] = None, port: Optional[int] = None) -> int:
    """Serve until SIGTERM/SIGINT; the exit code: 0, 78 (configuration), 1 (other)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s",
                            stream=sys.stderr)
    listen = listen or config.api.listen
    port = int(port or config.api.port)
    try:
        import uvicorn

        from sysreport.api.app import create_app
    except ImportError as exc:
        log.error("serve needs the api extra (missing %s): pip install 'sysreport[api]'",
                  exc.name or exc)
        return EX_CONFIG

    try:
        token = load_token(config)
    except TokenError as exc:
        log.error("api token: %s", exc)
        return EX_CONFIG
    from sysreport.config import is_loopback

    if token is None and not is_loopback(listen):
        log.error("refusing to listen on %s without a token: put one in "
                  "$CREDENTIALS_DIRECTORY/%s or in the file named by [api] token_file",
                  listen, CREDENTIAL_NAME)
        return EX_CONFIG

    try:
        sock = _bind(listen, port)
    except (OSError, UnicodeError) as exc:
        log.error("cannot listen on %s port %d: %s", listen, port,
                  getattr(exc, "strerror", None) or exc)
        return EX_CONFIG if isinstance(exc, socket.gaierror) else EX_SOFTWARE

    app = create_app(config, token=token)
    server = uvicorn.Server(uvicorn.Config(
        app, http="h11", loop="asyncio", lifespan="on", access_log=False,
        log_config=None, log_level="warning", server_header=False, proxy_headers=False,
        timeout_graceful_shutdown=5))
    host = "[%s]" % listen if ":" in listen else listen
    log.info("serving http://%s:%d/ (token %s)", host, port,
             "required" if token is not None else "not configured: loopback only")
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again
    # with the handlers it found; these make that a logged, clean exit 0 instead of a
    # death by signal.
    stopped_by = []
    previous = {sig: signal.signal(sig, lambda number, _frame: stopped_by.append(number))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[sock])
    except SystemExit as exc:          # uvicorn exits like this when startup fails
        return EX_SOFTWARE if exc.code else EX_OK
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopped_by:
        log.info("stopped by %s", signal.Signals(stopped_by[0]).name)
    return EX_OK
