"""The API's bearer token: where it is read from, and the check on every request.

The token comes from $CREDENTIALS_DIRECTORY/api-token (systemd LoadCredential=, the
role's way) or else from the file named by [api] token_file. It is never logged,
never put in an error message, never taken from the command line or the environment
(both are visible to other users in /proc).
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Awaitable, Callable, Dict, FrozenSet, Optional, Tuple

from ..config import secret_files

CREDENTIAL_NAME = "api-token"
# Reachable without a token: a liveness probe must not need the secret.
OPEN_PATHS = frozenset({"/healthz"})
REALM = "sysreport"


class TokenError(Exception):
    """A token source is configured but unusable. The message names the file, never
    its content."""


def token_sources(config: Any) -> list:
    """(label, path) pairs in the order they are tried."""
    return secret_files(CREDENTIAL_NAME, "api.token_file", config.api.token_file)


def load_token(config: Any) -> Optional[str]:
    """The token, or None when none is configured. Surrounding white space (the
    newline an editor or `echo` leaves) is not part of it."""
    for label, path in token_sources(config):
        try:
            with open(path, "r", encoding="utf-8") as handle:
                token = handle.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise TokenError("%s: cannot read %s (%s)" % (label, path, reason)) from None
        if not token:
            raise TokenError("%s: %s is empty" % (label, path))
        if any(ch.isspace() for ch in token) or not token.isprintable():
            raise TokenError("%s: %s must hold one token on one line, without spaces"
                             % (label, path))
        return token
    return None


Scope = Dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
                   Awaitable[None]]


def check(header: Optional[bytes], token: bytes) -> Tuple[bool, str]:
    """(accepted, problem) for one Authorization header value."""
    if not header:
        return False, "missing"
    scheme, _, given = header.partition(b" ")
    if scheme.lower() != b"bearer" or not given.strip():
        return False, "invalid_request"
    # compare_digest takes time independent of where the strings differ
    if hmac.compare_digest(given.strip(), token):
        return True, ""
    return False, "invalid_token"


class BearerAuth:
    """Pure ASGI middleware: every HTTP path except OPEN_PATHS needs the token.

    Middleware rather than a FastAPI dependency so that the OpenAPI document and the
    docs page are covered too, and so that a refused request costs no routing."""

    def __init__(self, app: ASGIApp, token: str, open_paths: FrozenSet[str] = OPEN_PATHS):
        self.app = app
        self.token = token.encode("utf-8")
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        accepted, problem = check(header, self.token)
        if accepted:
            await self.app(scope, receive, send)
            return
        challenge = 'Bearer realm="%s"' % REALM
        if problem != "missing":
            challenge += ', error="%s"' % problem
        detail = {"missing": "this endpoint needs Authorization: Bearer <token>",
                  "invalid_request": "Authorization must be: Bearer <token>",
                  "invalid_token": "wrong token"}[problem]
        body = json.dumps({"detail": detail}).encode("utf-8")
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode("ascii")),
                                (b"www-authenticate", challenge.encode("ascii"))]})
        await send({"type": "http.response.body", "body": body})
