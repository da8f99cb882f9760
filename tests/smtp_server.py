"""A real SMTP server for tests: aiosmtpd with implicit TLS or STARTTLS and AUTH.

In-process (pytest), on a thread:

    with TestSMTPServer(password="app-pass", tls="starttls", cert_dir=tmp) as server:
        ... point smtp.host/port/ca_file at server.host/server.port/server.ca_file ...
        server.messages[0].message["Subject"], server.auth[0].success

Standalone (Molecule runs it inside containers), until SIGTERM/SIGINT:

    python tests/smtp_server.py --port 8465 --tls tls --password-file /etc/pw \\
        --mbox /srv/mbox [--cert-dir DIR] [--hostname NAME] [--fail-data 451]

It writes DIR/ca.pem (trust it with smtp.ca_file), each accepted message as
MBOX/<n>.eml and each AUTH attempt as a line of MBOX/auth.log ("PLAIN user ok");
passwords are never written.

Faults, to test the agent's handling of each:
    fail_mail="421 4.7.0 Try again later"   reply to MAIL FROM
    fail_data="451 4.3.0 Try again later"   reply at the end of DATA
    drop_data=True                          close the connection during DATA
    SilentServer()                          accepts TCP, never says anything
"""

from __future__ import annotations

import argparse
import datetime
import email
import email.policy
import ipaddress
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import warnings
from typing import List, Optional

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# With implicit TLS the whole connection is encrypted before SMTP starts, but aiosmtpd
# only counts STARTTLS as "TLS" and warns (per connection) that AUTH is allowed
# without it; auth_require_tls=False is therefore right for --tls tls.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
logging.getLogger("mail.log").setLevel(logging.ERROR)


# --------------------------------------------------------------------------- certificates

def make_certificates(directory: str, names: tuple = ("localhost",),
                      addresses: tuple = ("127.0.0.1", "::1")) -> tuple:
    """A CA and a server certificate it signed (with the extensions strict
    verification asks for). Returns (ca.pem, server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sysreport test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (x509.CertificateBuilder()
               .subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                            crl_sign=True, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(ca_ski, critical=False)
               .sign(ca_key, hashes.SHA256()))

    key = ec.generate_private_key(ec.SECP256R1())
    alt = [x509.DNSName(n) for n in names] + \
        [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca_ski), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))

    ca_path = os.path.join(directory, "ca.pem")
    cert_path = os.path.join(directory, "server.pem")
    key_path = os.path.join(directory, "server.key")
    with open(ca_path, "wb") as handle:
        handle.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return ca_path, cert_path, key_path


# --------------------------------------------------------------------------- the server

class Received:
    """One accepted message."""

    def __init__(self, mail_from: str, rcpt_tos: List[str], data: bytes,
                 login: Optional[str]):
        self.mail_from = mail_from
        self.rcpt_tos = list(rcpt_tos)
        self.data = data
        self.login = login
        self.message = email.message_from_bytes(data, policy=email.policy.default)


class AuthAttempt:
    def __init__(self, mechanism: str, login: str, password: str, success: bool):
        self.mechanism = mechanism
        self.login = login
        self.password = password      # kept in memory for assertions, never written
        self.success = success

    def __repr__(self) -> str:
        return "AuthAttempt(%r, %r, success=%r)" % (self.mechanism, self.login, self.success)


class _Handler:
    def __init__(self, server: "TestSMTPServer"):
        self.server = server

    async def handle_MAIL(self, smtp, session, envelope, address, mail_options):
        if self.server.fail_mail:
            return self.server.fail_mail
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        if self.server.drop_data:
            smtp.transport.close()
            return "250 never seen: the connection is closed"
        if self.server.fail_data:
            return self.server.fail_data
        auth = getattr(session, "auth_data", None)
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        self.server._record(Received(envelope.mail_from, envelope.rcpt_tos,
                                     envelope.original_content or envelope.content, login))
        return "250 2.0.0 OK queued"


class TestSMTPServer:
    """aiosmtpd on a thread; a context manager. tls: "tls" (implicit) or "starttls"."""

    __test__ = False  # not a pytest test class

    def __init__(self, password: str, tls: str = "tls", cert_dir: Optional[str] = None,
                 host: str = "127.0.0.1", port: int = 0, user: Optional[str] = None,
                 mbox: Optional[str] = None, hostnames: tuple = ("localhost",),
                 fail_mail: str = "", fail_data: str = "", drop_data: bool = False):
        if tls not in ("tls", "starttls"):
            raise ValueError("tls must be 'tls' or 'starttls'")
        self.password = password
        self.user = user
        self.tls = tls
        self.host = host
        self.port = port or free_port(host)
        self.mbox = mbox
        self.fail_mail = fail_mail
        self.fail_data = fail_data
        self.drop_data = drop_data
        self.messages: List[Received] = []
        self.auth: List[AuthAttempt] = []
        self._lock = threading.Lock()
        cert_dir = cert_dir or mbox
        if not cert_dir:
            raise ValueError("give cert_dir (or mbox) for the certificates")
        self.ca_file, cert, key = make_certificates(cert_dir, names=tuple(hostnames))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        kwargs = dict(authenticator=self._authenticate, auth_required=True)
        if tls == "tls":
            kwargs.update(ssl_context=context, auth_require_tls=False)
        else:
            kwargs.update(tls_context=context, require_starttls=True)
        self.controller = Controller(_Handler(self), hostname=host, port=self.port,
                                     server_hostname="sysreport-test", **kwargs)

    # aiosmtpd calls this for AUTH PLAIN and AUTH LOGIN
    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = password == self.password and (self.user is None or login == self.user)
        attempt = AuthAttempt(mechanism, login, password, ok)
        with self._lock:
            self.auth.append(attempt)
        if self.mbox:
            with open(os.path.join(self.mbox, "auth.log"), "a") as handle:
                handle.write("%s %s %s\n" % (mechanism, login, "ok" if ok else "refused"))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def _record(self, received: Received) -> None:
        with self._lock:
            self.messages.append(received)
            number = len(self.messages)
        if self.mbox:
            path = os.path.join(self.mbox, "%04d.eml" % number)
            with open(path + ".tmp", "wb") as handle:
                handle.write(received.data)
            os.rename(path + ".tmp", path)

    def start(self) -> "TestSMTPServer":
        if self.mbox:
            os.makedirs(self.mbox, exist_ok=True)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> "TestSMTPServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class SilentServer:
    """Accepts TCP connections and never answers (a black-holed SMTP port)."""

    def __init__(self, host: str = "127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)      # the kernel completes handshakes; nobody reads
        self.host, self.port = self.sock.getsockname()[:2]

    def __enter__(self) -> "SilentServer":
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- standalone

def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Test SMTP server (aiosmtpd, TLS, AUTH).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--tls", choices=("tls", "starttls"), default="tls",
                        help="implicit TLS (like port 465) or STARTTLS (like 587)")
    parser.add_argument("--password-file", required=True,
                        help="file holding the one password AUTH accepts")
    parser.add_argument("--user", help="the one login AUTH accepts (default: any)")
    parser.add_argument("--mbox", required=True,
                        help="directory: accepted messages as <n>.eml, AUTH attempts in auth.log")
    parser.add_argument("--cert-dir", help="where to write ca.pem, server.pem, server.key "
                                           "(default: --mbox)")
    parser.add_argument("--hostname", action="append", default=[],
                        help="a DNS name for the certificate (repeat; default localhost)")
    parser.add_argument("--fail-mail", default="", help='reply to MAIL FROM, e.g. "421 4.7.0 later"')
    parser.add_argument("--fail-data", default="", help='reply after DATA, e.g. "451 4.3.0 later"')
    parser.add_argument("--drop-data", action="store_true", help="close the connection in DATA")
    args = parser.parse_args(argv)
    with open(args.password_file, encoding="utf-8") as handle:
        password = handle.read()
    if password.endswith("\n"):
        password = password[:-1]
    server = TestSMTPServer(password, tls=args.tls, cert_dir=args.cert_dir or args.mbox,
                            host=args.host, port=args.port, user=args.user, mbox=args.mbox,
                            hostnames=tuple(args.hostname or ["localhost"]),
                            fail_mail=args.fail_mail, fail_data=args.fail_data,
                            drop_data=args.drop_data)
    os.makedirs(args.mbox, exist_ok=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    server.start()
    print("listening on %s:%d (%s); CA %s" % (args.host, args.port, args.tls, server.ca_file),
          flush=True)
    while not done.wait(1):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
