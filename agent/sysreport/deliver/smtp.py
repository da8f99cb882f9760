"""The SMTP session: yagmail opens the connection and logs in; we send our own bytes.

Why not yagmail's send(): with no password it asks the keyring and then getpass (a
unit would hang); send() swallows failures into False after sleeping and keeps the
message only in memory; it rebuilds the message itself (its text part comes from the
HTML strings, and prettifying costs ~160 ms and 18 MiB). So yagmail gets an explicit
password (or an OAuth2 file) and a verifying TLS context, and the already-rendered
message goes over its smtplib connection with sendmail(); every exception reaches
failures.classify. yagmail is imported here only, when something is to be sent.
"""

from __future__ import annotations

import os
import re
import socket
import smtplib
import ssl
from email.utils import parseaddr
from typing import Any, Dict, List, Optional

from sysreport.config import ConfigError, Section, smtp_password
from sysreport.deliver.failures import Failure, classify
from sysreport.log import get_logger

log = get_logger("sysreport.smtp")

# What a finished yagmail OAuth2 file holds, and all that its token refresh takes.
OAUTH2_KEYS = ("google_client_id", "google_client_secret", "google_refresh_token")


def tls_context(config: Section) -> ssl.SSLContext:
    """Verifies the server's certificate and name (smtplib's own default does not).
    smtp.ca_file is trusted in addition to the system store.

    The system store is given as OpenSSL's hashed directory when there is one: it is
    read lazily, one certificate per lookup, where the bundle file (what
    create_default_context() loads) is parsed whole, ~150 CAs, 30-40 ms per run."""
    paths = ssl.get_default_verify_paths()      # honours SSL_CERT_FILE / SSL_CERT_DIR
    capath = paths.capath if paths.capath and _has_hashed_certs(paths.capath) else None
    if capath:
        context = ssl.create_default_context(capath=capath)
    else:
        context = ssl.create_default_context()
    if config.smtp.ca_file:
        context.load_verify_locations(cafile=config.smtp.ca_file)
    return context


def _has_hashed_certs(directory: str) -> bool:
    try:
        with os.scandir(directory) as entries:
            return any(re.match(r"^[0-9a-f]{8}\.\d+$", e.name) for e in entries)
    except OSError:
        return False


def server_name(config: Section) -> str:
    return "%s:%s" % (config.smtp.host, config.smtp.port)


def envelope_sender(config: Section) -> str:
    return parseaddr(config.mail["from"])[1] or config.smtp.username


def credentials(config: Section) -> Optional[str]:
    """The password, or None with smtp.oauth2_file. ConfigError when neither exists:
    yagmail would otherwise fall back to the keyring and an interactive prompt."""
    if config.smtp.oauth2_file:
        return None
    password = smtp_password(config)
    if password is None:
        raise ConfigError(["%s: smtp: no SMTP password: put it in $CREDENTIALS_DIRECTORY/"
                           "smtp-password (systemd LoadCredential=), in the file named by "
                           "smtp.password_file, or in the environment variable %s"
                           % (config.path or "<defaults>", config.smtp.password_env or
                              "named by smtp.password_env")])
    return password


def crlf(message: bytes) -> bytes:
    """SMTP lines end in CRLF. EmailMessage.as_bytes() ends them in LF, and smtplib fixes
    line ends only of str messages: bare LFs on the wire are refused by strict servers
    (aiosmtpd: "500 Line too long"; Gmail and others since SMTP smuggling)."""
    return _EOL.sub(b"\r\n", message)


_EOL = re.compile(rb"\r\n|\r(?!\n)|\n")


class SMTPFailure(Exception):
    def __init__(self, failure: Failure):
        self.failure = failure
        super().__init__(failure.line())


class Session:
    """with Session(config) as s: s.send(message_bytes, recipients)"""

    def __init__(self, config: Section, password: Optional[str] = None):
        self.config = config
        self.password = password if password is not None else credentials(config)
        self.server = server_name(config)
        self.yag: Any = None

    def __enter__(self) -> "Session":
        self.open()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def open(self) -> None:
        import yagmail  # ~75 ms: only when there is something to send

        smtp = self.config.smtp
        context = tls_context(self.config)
        implicit = smtp.security == "tls"
        # local_hostname: the EHLO name; without it smtplib asks DNS (socket.getfqdn()),
        # which can stall for seconds on a host whose resolver is down
        kwargs: Dict[str, Any] = {"timeout": smtp.timeout, "local_hostname": ehlo_name()}
        if implicit:
            kwargs["context"] = context          # smtplib.SMTP_SSL(..., context=)
        log.debug("connecting to %s (%s) as %s", self.server, smtp.security, smtp.username)
        if smtp.oauth2_file:
            _check_oauth2_file(self.config)
        try:
            self.yag = yagmail.SMTP(
                user=smtp.username or None,
                password=self.password,
                host=smtp.host,
                port=smtp.port,
                smtp_ssl=implicit,
                # a dict is passed on as smtplib's starttls(**dict): our verifying context
                smtp_starttls=False if implicit else {"context": context},
                oauth2_file=smtp.oauth2_file or None,
                soft_email_validation=False,
                **kwargs)
            self.yag.set_logging(None)   # its handler would print with timestamps; we log
        except (OSError, ValueError, KeyError) as exc:
            what = "smtp.oauth2_file" if smtp.oauth2_file else "smtp"
            raise ConfigError(["%s: %s: yagmail cannot use these settings (%s)"
                               % (self.config.path or "<defaults>", what, type(exc).__name__)]) \
                from None
        try:
            if smtp.oauth2_file:
                self._login_oauth2(context, implicit)
            else:
                self.yag.login()
        except Exception as exc:  # noqa: BLE001 - classified, or re-raised by classify
            stage = "connecting" if self.yag.smtp is None else "logging in"
            self.close()
            raise SMTPFailure(classify(exc, self.server, stage)) from None
        log.debug("logged in to %s", self.server)

    def _login_oauth2(self, context: ssl.SSLContext, implicit: bool) -> None:
        # yagmail's own OAuth2 login skips STARTTLS when given a context and ignores the
        # AUTH reply; it supplies the token, we do the handshake and check the answer
        from yagmail.oauth2 import get_oauth_string

        # only the keys yagmail's refresh takes (another one is a TypeError there); its
        # urlopen() has no timeout of its own, so smtp.timeout bounds the token refresh
        info = {key: self.yag.credentials.get(key) for key in OAUTH2_KEYS}
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(self.config.smtp.timeout)
        try:
            oauth_string = get_oauth_string(self.yag.user, info)
        finally:
            socket.setdefaulttimeout(previous)
        conn = self.yag.connection(self.config.smtp.host, self.config.smtp.port,
                                   **self.yag.kwargs)
        self.yag.smtp = conn
        conn.ehlo()
        if not implicit:
            conn.starttls(context=context)
            conn.ehlo()
        code, reply = conn.docmd("AUTH", "XOAUTH2 " + oauth_string)
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)
        self.yag.is_closed = False

    def send(self, message: bytes, recipients: List[str]) -> Dict[str, Any]:
        """sendmail; returns the refused recipients (partial success) or raises SMTPFailure."""
        try:
            return self.yag.smtp.sendmail(envelope_sender(self.config), recipients,
                                          crlf(message))
        except Exception as exc:  # noqa: BLE001 - classified, or re-raised by classify
            raise SMTPFailure(classify(exc, self.server, "sending")) from None

    def alive(self) -> bool:
        try:
            return self.yag is not None and self.yag.smtp.noop()[0] == 250
        except Exception:  # noqa: BLE001 - any failure means "reconnect"
            return False

    def close(self) -> None:
        if self.yag is None:
            return
        yag, self.yag = self.yag, None
        yag.is_closed = True      # keep yagmail's __del__ from trying again
        try:
            if yag.smtp is not None:
                yag.smtp.quit()
        except Exception:  # noqa: BLE001 - closing a broken connection: nothing to save
            try:
                yag.smtp.close()
            except Exception:  # noqa: BLE001
                pass


_EHLO_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})\Z")


def ehlo_name() -> str:
    """The host name for EHLO when it is a plain DNS name, else "localhost": smtplib sends
    the name as ASCII and refuses a line break, so a host named "héllo" (or worse) would
    fail every session."""
    name = socket.gethostname()
    return name if _EHLO_NAME.match(name) else "localhost"


def _check_oauth2_file(config: Section) -> None:
    """yagmail turns an absent or half-made OAuth2 file into an interactive set-up (input(),
    getpass, a browser URL): refuse it here instead."""
    import json

    path = config.smtp.oauth2_file
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
        complete = isinstance(info, dict) and all(info.get(k) for k in OAUTH2_KEYS)
    except (OSError, ValueError):
        complete = False
    if not complete:
        raise ConfigError(["%s: smtp.oauth2_file: %s is not a finished yagmail OAuth2 file "
                           "(needs %s); create it once by hand with yagmail's interactive "
                           "set-up" % (config.path or "<defaults>", path, ", ".join(OAUTH2_KEYS))])
