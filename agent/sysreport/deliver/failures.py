"""Turn what smtplib, ssl and socket raise into one line of what happened and what to do.

    >>> classify(smtplib.SMTPAuthenticationError(535, b"5.7.8 BadCredentials"), "smtp.gmail.com:465", "logging in")
    Failure(kind='auth', exit_code=78, ...)

Every failure keeps the message in the outbox. Exit 75 (EX_TEMPFAIL) means "the next
run retries by itself"; 78 (EX_CONFIG) means "a human must fix the configuration (the
password, the address) first" -- the message is still kept and goes out at the first
run after the fix.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from typing import Optional

EX_TEMPFAIL = 75
EX_CONFIG = 78

APP_PASSWORD_ADVICE = ("use an app password (https://myaccount.google.com/apppasswords), "
                       "not the account password; 2-Step Verification must be on")
GMAIL_AUTH_ADVICE = "Gmail refused the login: " + APP_PASSWORD_ADVICE


class Failure:
    """kind: dns refused tls auth tempfail rejected timeout dropped network protocol config.
    per_message: only this message failed; the connection can carry on with the next."""

    def __init__(self, kind: str, exit_code: int, message: str, advice: str = "",
                 per_message: bool = False):
        self.kind = kind
        self.exit_code = exit_code
        self.message = message
        self.advice = advice
        self.per_message = per_message

    def line(self) -> str:
        return "%s; %s" % (self.message, self.advice) if self.advice else self.message

    def __repr__(self) -> str:
        return "Failure(kind=%r, exit_code=%r, message=%r)" % (self.kind, self.exit_code,
                                                               self.message)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(str(text).split())
    return "%s %s" % (exc.smtp_code, text[:200])


def classify(exc: BaseException, server: str, stage: str, gmail: Optional[bool] = None
             ) -> Failure:
    """stage: "connecting", "starting TLS", "logging in", "sending", "closing"."""
    if gmail is None:
        gmail = "gmail" in server or "google" in server
    retry = "kept in the outbox, retried at the next run"
    if isinstance(exc, smtplib.SMTPResponseException) and stage == "logging in" \
            and 400 <= exc.smtp_code < 500:
        # smtplib raises SMTPAuthenticationError for any AUTH reply: a 4xx (Gmail's 454
        # "too many login attempts", 421) is temporary, not a wrong password
        return Failure("tempfail", EX_TEMPFAIL, "%s refused the login for now (%s): %s"
                       % (server, _reply(exc), retry))
    if isinstance(exc, smtplib.SMTPAuthenticationError) or (
            isinstance(exc, smtplib.SMTPResponseException) and stage == "logging in"
            and exc.smtp_code in (530, 534, 535)):
        advice = GMAIL_AUTH_ADVICE if gmail else \
            ("check smtp.username and the password (or smtp.oauth2_file); if this is "
             "Gmail: " + APP_PASSWORD_ADVICE)
        return Failure("auth", EX_CONFIG, "%s refused the login (%s)" % (server, _reply(exc)),
                       advice)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({"%s %s" % (code, (msg.decode("utf-8", "replace")
                                          if isinstance(msg, bytes) else str(msg))[:120])
                        for code, msg in exc.recipients.values()})
        temporary = all(400 <= code < 500 for code, _ in exc.recipients.values())
        return Failure("tempfail" if temporary else "rejected", EX_TEMPFAIL,
                       "%s refused every recipient (%s): %s" % (server, "; ".join(codes), retry),
                       "" if temporary else "check mail.to", per_message=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        if exc.smtp_code == 421:
            return Failure("tempfail", EX_TEMPFAIL, "%s is not accepting mail now (%s) while %s: %s"
                           % (server, _reply(exc), stage, retry))
        if 400 <= exc.smtp_code < 500:
            return Failure("tempfail", EX_TEMPFAIL, "%s deferred the message (%s) while %s: %s"
                           % (server, _reply(exc), stage, retry), per_message=stage == "sending")
        if stage == "sending":
            return Failure("rejected", EX_TEMPFAIL, "%s rejected the message (%s): %s"
                           % (server, _reply(exc), retry),
                           "a permanent refusal: check mail.from, mail.to and the server's "
                           "limits; the outbox drops it after state.outbox_max_age_days",
                           per_message=True)
        return Failure("protocol", EX_TEMPFAIL, "%s answered %s while %s: %s"
                       % (server, _reply(exc), stage, retry))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return Failure("protocol", EX_CONFIG, "%s does not support what we need while %s (%s)"
                       % (server, stage, exc),
                       'check smtp.security ("tls" on port 465, "starttls" on 587)')
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        what = "during the message (DATA)" if stage == "sending" else "while %s" % stage
        return Failure("dropped", EX_TEMPFAIL, "%s closed the connection %s: %s"
                       % (server, what, retry))
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return Failure("timeout", EX_TEMPFAIL, "%s did not answer in time (smtp.timeout) while "
                       "%s: %s" % (server, stage, retry),
                       "if this persists, check smtp.port and smtp.security "
                       '("tls" on 465, "starttls" on 587) and the firewall')
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Failure("tls", EX_TEMPFAIL, "%s presented a certificate we do not trust (%s): %s"
                       % (server, getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or exc, retry),
                       "check smtp.host; for a private relay name its CA in smtp.ca_file")
    if isinstance(exc, ssl.SSLError):
        return Failure("tls", EX_TEMPFAIL, "TLS with %s failed while %s (%s): %s"
                       % (server, stage, getattr(exc, "reason", None) or exc, retry),
                       'check smtp.security: "tls" on port 465, "starttls" on 587')
    if isinstance(exc, socket.gaierror):
        return Failure("dns", EX_TEMPFAIL, "cannot resolve the SMTP host %s (%s): %s"
                       % (server, exc.strerror or exc, retry), "check smtp.host and DNS")
    if isinstance(exc, ConnectionRefusedError):
        return Failure("refused", EX_TEMPFAIL, "%s refused the connection: %s" % (server, retry),
                       "check smtp.host and smtp.port")
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return Failure("dropped", EX_TEMPFAIL, "%s dropped the connection while %s: %s"
                       % (server, stage, retry))
    if isinstance(exc, smtplib.SMTPException):
        return Failure("protocol", EX_TEMPFAIL, "SMTP error with %s while %s (%s): %s"
                       % (server, stage, type(exc).__name__, retry))
    if isinstance(exc, OSError):
        from urllib.error import HTTPError   # imported on this failure path only

        if isinstance(exc, HTTPError) and exc.code in (400, 401):
            # Google's token endpoint (smtp.oauth2_file): invalid_grant, a revoked or
            # expired refresh token; no retry makes it valid again
            return Failure("auth", EX_CONFIG, "Google refused the OAuth2 refresh token "
                           "(HTTP %s) while %s" % (exc.code, stage),
                           "create smtp.oauth2_file again with yagmail's interactive "
                           "set-up, or use an app password")
        return Failure("network", EX_TEMPFAIL, "network error with %s while %s (%s): %s"
                       % (server, stage, exc.strerror or type(exc).__name__, retry))
    raise exc
