"""Delivery against a real SMTP server on loopback (aiosmtpd: implicit TLS or STARTTLS,
AUTH, a certificate made for the test), and every fault the agent must survive.

The CLI runs as a subprocess; every run asserts the password never shows in its output.
"""

from __future__ import annotations

import json
import shutil
import smtplib
import socket
import sys
import ssl
import urllib.error
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from conftest import PASSWORD, USER
from sysreport import config as configuration
from sysreport import deliver
from sysreport.deliver import failures, lock
from sysreport.deliver.outbox import Outbox


def a_message(subject: str = "test message", to=("ops@example.com",)) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = USER
    msg["To"] = ", ".join(to)
    msg["Message-ID"] = make_msgid(domain="test.example")
    msg.set_content("plain text body\nsecond line\n")
    msg.add_alternative("<html><body><p>html body</p></body></html>", subtype="html")
    return msg


def parts(received):
    """(text, html) as they arrived, line ends normalised (the wire uses CRLF)."""
    plain = received.message.get_body(("plain",)).get_content()
    html = received.message.get_body(("html",)).get_content()
    return plain.replace("\r\n", "\n"), html.replace("\r\n", "\n")


# --------------------------------------------------------------------------- the happy path

@pytest.mark.parametrize("tls", ["tls", "starttls"])
def test_the_real_report_arrives_whole(tls, smtp_server, write_config, run, state_dir,
                                       outbox_files):
    server = smtp_server(tls=tls)
    cfg = write_config(server)
    result = run("send", config=cfg)
    assert result.returncode == 0, result.stderr

    assert len(server.messages) == 1
    got = server.messages[0]
    msg = got.message
    assert server.auth and server.auth[-1].success and server.auth[-1].password == PASSWORD
    assert got.login == USER
    assert got.mail_from == USER
    assert sorted(got.rcpt_tos) == ["oncall@example.com", "ops@example.com"]
    assert msg["From"] == "Sysreport <%s>" % USER
    assert msg["To"] == "ops@example.com, oncall@example.com"
    status = msg["X-Sysreport-Status"]
    assert status in ("OK", "WARN", "CRIT")
    assert msg["Subject"].startswith("[test] ") and status in msg["Subject"]
    assert msg["Message-ID"].startswith("<sysreport.")
    assert msg.get_content_type() == "multipart/alternative"
    plain, html = parts(got)
    # the text part is the real text report, not text stripped from the HTML
    assert "PROBLEMS" in plain or "No problems" in plain or status in plain
    assert "<" not in plain.splitlines()[0]
    assert "<html" in html.lower() and "</html>" in html.lower()

    assert outbox_files() == []
    last = json.loads((state_dir / "last-status.json").read_text())
    assert last["delivered"] is True and last["status"] == status
    assert last["generated_at"] and isinstance(last["problems"], list)
    assert "delivered" in result.stderr and msg["Message-ID"] in result.stderr


def test_to_on_the_command_line_replaces_mail_to(smtp_server, write_config, run):
    server = smtp_server()
    result = run("send", "--to", "someone@example.org", config=write_config(server))
    assert result.returncode == 0, result.stderr
    assert server.messages[0].rcpt_tos == ["someone@example.org"]
    assert server.messages[0].message["To"] == "someone@example.org"


def test_deliver_send_sends_our_bytes_unchanged(smtp_server, write_config, state_dir):
    server = smtp_server(tls="starttls")
    cfg = configuration.load(str(write_config(server)))
    msg = a_message()
    outcome = deliver.send(msg.as_bytes(), cfg)
    assert outcome.exit_code == 0 and outcome.delivered == [msg["Message-ID"]]
    got = server.messages[0]
    assert got.message["Message-ID"] == msg["Message-ID"]
    assert parts(got) == ("plain text body\nsecond line\n",
                          "<html><body><p>html body</p></body></html>\n")
    assert Outbox(str(state_dir)).entries() == []


def test_only_when_not_ok_sends_no_ok_report_but_flushes_the_outbox(
        smtp_server, write_config, run, state_dir, outbox_files):
    # thresholds nothing can reach: the report is OK
    calm = {"warn": 100, "crit": 100}
    overrides = {"report.only_when_not_ok": True, "report.sections": ["memory", "swap"],
                 "thresholds.memory_percent": calm, "thresholds.swap_percent": calm,
                 "thresholds.recent_reboot_hours": 0}
    server = smtp_server()
    queued = a_message("left from yesterday")
    Outbox(str(state_dir)).add(queued.as_bytes())
    result = run("send", config=write_config(server, **overrides))
    assert result.returncode == 0, result.stderr
    assert [m.message["Message-ID"] for m in server.messages] == [queued["Message-ID"]]
    last = json.loads((state_dir / "last-status.json").read_text())
    assert last["status"] == "OK" and last["sent"] == "skipped" and last["delivered"] is False
    assert outbox_files() == []


def test_dry_run_touches_nothing(smtp_server, write_config, run, state_dir):
    server = smtp_server()
    result = run("send", "--dry-run", config=write_config(server))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Subject: [test] ")
    assert "\nTo: ops@example.com, oncall@example.com\n" in result.stdout
    assert "\nMessage-ID: <sysreport." in result.stdout
    assert server.messages == [] and server.auth == []
    assert not state_dir.exists()


def test_test_smtp_logs_in_and_sends_nothing(smtp_server, write_config, run):
    server = smtp_server(tls="starttls")
    result = run("test-smtp", config=write_config(server))
    assert result.returncode == 0, result.stderr
    assert [a.success for a in server.auth] == [True]
    assert server.messages == []
    assert "logged in to 127.0.0.1:%d" % server.port in result.stderr


def test_password_from_the_credentials_directory(smtp_server, write_config, run, tmp_path):
    server = smtp_server()
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "smtp-password").write_text(PASSWORD + "\n")
    cfg = write_config(server, **{"smtp.password_file": None})
    result = run("test-smtp", config=cfg, env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert result.returncode == 0, result.stderr
    assert server.auth[-1].password == PASSWORD


# --------------------------------------------------------------------------- faults

def test_server_down_then_up_delivers_exactly_once_with_the_same_message_id(
        smtp_server, write_config, run, outbox_files, state_dir):
    cfg = write_config(None)                      # nothing listens on this port yet
    first = run("send", config=cfg)
    assert first.returncode == 75, first.stderr
    assert "refused the connection" in first.stderr
    [queued] = outbox_files()
    queued_id = [line for line in queued.read_text().splitlines()
                 if line.lower().startswith("message-id:")][0].split(":", 1)[1].strip()
    assert json.loads((state_dir / "last-status.json").read_text())["sent"] == "queued"

    port = int([line for line in cfg.read_text().splitlines()
                if line.startswith("port = ")][0].split("=")[1])
    server = smtp_server(port=port)
    cfg = write_config(server)                    # same port, now with the server's CA
    second = run("flush", config=cfg)
    assert second.returncode == 0, second.stderr
    third = run("flush", config=cfg)              # nothing left: nothing sent again
    assert third.returncode == 0, third.stderr
    ids = [m.message["Message-ID"] for m in server.messages]
    assert ids == [queued_id]
    assert outbox_files() == []


def test_next_send_delivers_the_kept_report_first_then_its_own(
        smtp_server, write_config, run, outbox_files, state_dir):
    server = smtp_server()
    cfg = write_config(server)
    kept = a_message("kept")
    Outbox(str(state_dir)).add(kept.as_bytes())
    result = run("send", config=cfg)
    assert result.returncode == 0, result.stderr
    ids = [m.message["Message-ID"] for m in server.messages]
    assert len(ids) == 2 and ids[0] == kept["Message-ID"] and ids[1].startswith("<sysreport.")
    assert outbox_files() == []


def test_auth_refused_gives_the_app_password_advice_and_keeps_the_report(
        smtp_server, write_config, run, tmp_path, outbox_files):
    server = smtp_server()
    wrong = tmp_path / "wrong"
    wrong.write_text("the-account-password\n")
    cfg = write_config(server, **{"smtp.password_file": str(wrong)})
    result = run("send", config=cfg)
    assert result.returncode == 78
    # smtplib tries AUTH PLAIN, then LOGIN: both refused
    assert server.auth and not any(a.success for a in server.auth)
    assert "refused the login (535" in result.stderr
    assert "app password (https://myaccount.google.com/apppasswords)" in result.stderr
    assert "2-Step Verification must be on" in result.stderr
    assert "the-account-password" not in result.stderr + result.stdout
    assert len(outbox_files()) == 1 and server.messages == []


def test_a_host_name_that_is_no_dns_name_still_delivers(smtp_server, write_config, tmp_path):
    """smtplib sends the EHLO name as ASCII and refuses a line break: a host named "héllo"
    (set here in a UTS namespace of its own) says EHLO localhost instead of failing."""
    import subprocess
    from conftest import _clean_env, sysreport_command

    if subprocess.run(["unshare", "-u", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -u needs root (CAP_SYS_ADMIN)")
    server = smtp_server()
    cfg = write_config(server)
    rename = ("import os, socket, sys; socket.sethostname(sys.argv[1].encode()); "
              "os.execv(sys.argv[2], sys.argv[2:])")
    result = subprocess.run(["unshare", "-u", sys.executable, "-c", rename, "h\u00e9llo"]
                            + [shutil.which(sysreport_command()[0]) or sys.executable]
                            + sysreport_command()[1:] + ["--config", str(cfg), "send"],
                            capture_output=True, text=True, env=_clean_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(server.messages) == 1
    assert "h\u00e9llo" in str(server.messages[0].message["Subject"])


FILL_AND_RUN = ('mount -t tmpfs -o size=64k tmpfs "$1" && { cat /dev/zero > "$1/filler"; '
                'shift; exec "$@"; }')


def run_on_a_full_state_disk(state, command):
    """command with the state directory on a 64 KiB tmpfs filled to the last byte, in a
    mount namespace of its own (nothing outlives the run)."""
    import subprocess
    from conftest import _clean_env

    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -m needs root (CAP_SYS_ADMIN)")
    return subprocess.run(["unshare", "-m", "sh", "-c", FILL_AND_RUN, "sh", str(state)] + command,
                          capture_output=True, text=True, env=_clean_env(), timeout=60)


def test_a_full_state_disk_still_delivers_the_report_from_memory(smtp_server, write_config,
                                                                 tmp_path):
    """The day /var fills up is the day its report matters most: the outbox cannot store
    it, so it goes out from memory; the history and last-status.json wait for space."""
    from conftest import sysreport_command

    server = smtp_server()
    state = tmp_path / "state-on-a-full-disk"
    state.mkdir()
    cfg = write_config(server, **{"state.directory": str(state)})
    result = run_on_a_full_state_disk(state, sysreport_command() + ["--config", str(cfg), "send"])
    assert result.returncode == 0, result.stderr
    assert len(server.messages) == 1
    assert "No space left on device" in result.stderr
    assert "sending it from memory" in result.stderr and "history not saved" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_full_state_disk_and_no_server_says_the_report_is_lost(write_config, tmp_path):
    """The one case the outbox cannot cover is said plainly, with exit 75."""
    from conftest import sysreport_command

    state = tmp_path / "state-on-a-full-disk"
    state.mkdir()
    cfg = write_config(None, **{"state.directory": str(state)})   # nothing listens
    result = run_on_a_full_state_disk(state, sysreport_command() + ["--config", str(cfg), "send"])
    assert result.returncode == 75, result.stderr
    assert "is lost: the outbox could not store it" in result.stderr
    assert "Traceback" not in result.stderr


def test_auth_refused_on_test_smtp_is_78_with_advice(smtp_server, write_config, run, tmp_path):
    server = smtp_server(tls="starttls")
    wrong = tmp_path / "wrong"
    wrong.write_text("nope-nope\n")
    result = run("test-smtp", config=write_config(server, **{"smtp.password_file": str(wrong)}))
    assert result.returncode == 78
    assert "apppasswords" in result.stderr


@pytest.mark.parametrize("fault, expected", [
    ({"fail_mail": "421 4.7.0 Try again later, closing connection"}, "is not accepting mail now (421"),
    ({"fail_data": "451 4.3.0 Mail server temporarily rejected message"}, "deferred the message (451"),
    ({"fail_data": "452 4.3.1 Insufficient system storage"}, "deferred the message (452"),
    ({"drop_data": True}, "closed the connection during the message (DATA)"),
])
def test_temporary_failures_keep_the_report_and_exit_75(fault, expected, smtp_server,
                                                        write_config, run, outbox_files):
    server = smtp_server(**fault)
    result = run("send", config=write_config(server))
    assert result.returncode == 75, result.stderr
    assert expected in result.stderr
    assert "retried at the next run" in result.stderr
    assert server.messages == []
    assert len(outbox_files()) == 1
    # the fault clears: the same message goes out at the next run
    server.fail_mail = server.fail_data = ""
    server.drop_data = False
    result = run("flush", config=write_config(server))
    assert result.returncode == 0, result.stderr
    assert len(server.messages) == 1 and outbox_files() == []


def test_a_server_that_never_answers_is_bounded_by_the_timeout(silent_server, write_config,
                                                               run, outbox_files):
    cfg = write_config(None, **{"smtp.port": silent_server.port, "smtp.timeout": 1})
    result = run("send", config=cfg, timeout=30)
    assert result.returncode == 75
    assert "did not answer in time (smtp.timeout)" in result.stderr
    assert len(outbox_files()) == 1


def test_an_untrusted_certificate_is_refused(smtp_server, write_config, run, tmp_path):
    server = smtp_server()
    cfg = write_config(server, **{"smtp.ca_file": None})
    result = run("test-smtp", config=cfg)
    assert result.returncode == 75
    assert "certificate we do not trust" in result.stderr and "smtp.ca_file" in result.stderr
    assert server.auth == []          # no password was offered to it


def test_implicit_tls_against_a_starttls_port_says_what_to_check(smtp_server, write_config, run):
    server = smtp_server(tls="starttls")
    result = run("test-smtp", config=write_config(server, **{"smtp.security": "tls"}))
    assert result.returncode == 75
    assert 'smtp.security: "tls" on port 465, "starttls" on 587' in result.stderr


def test_no_password_is_a_config_error_not_a_prompt(smtp_server, write_config, run,
                                                    outbox_files):
    server = smtp_server()
    cfg = write_config(server, **{"smtp.password_file": None})
    result = run("send", config=cfg, timeout=20)
    assert result.returncode == 78
    assert "no SMTP password" in result.stderr and "SYSREPORT_SMTP_PASSWORD" in result.stderr
    assert server.auth == [] and outbox_files() == []


def test_password_from_the_environment_variable_never_shows(smtp_server, write_config, run):
    server = smtp_server()
    cfg = write_config(server, **{"smtp.password_file": None, "smtp.password_env": "MY_PW"})
    result = run("send", "--verbose", config=cfg, env={"MY_PW": PASSWORD})
    assert result.returncode == 0, result.stderr
    assert server.auth[-1].password == PASSWORD


# --------------------------------------------------------------------------- outbox bounds

def test_a_full_outbox_drops_the_oldest_and_logs_it(write_config, run, state_dir,
                                                    outbox_files):
    import datetime
    box = Outbox(str(state_dir))
    now = datetime.datetime.now(datetime.timezone.utc)
    old = [a_message("old %d" % i) for i in range(4)]
    for i, msg in enumerate(old):
        box.add(msg.as_bytes(), now=now - datetime.timedelta(hours=10 - i))
    ancient = a_message("ancient")
    box.add(ancient.as_bytes(), now=now - datetime.timedelta(days=20))
    cfg = write_config(None, **{"state.outbox_max_messages": 3})
    result = run("send", config=cfg)               # server down: everything kept
    assert result.returncode == 75
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING")]
    dropped = [line for line in warnings if "dropped undelivered message" in line]
    assert len(dropped) == 3
    assert ancient["Message-ID"] in dropped[0] and "older than 14 days" in dropped[0]
    assert old[0]["Message-ID"] in dropped[1] and "outbox_max_messages" in dropped[1]
    assert old[1]["Message-ID"] in dropped[2]
    assert len(outbox_files()) == 3


# --------------------------------------------------------------------------- the lock

def test_a_second_run_waits_for_the_lock_then_queues_its_report_with_75(
        smtp_server, write_config, run, state_dir, outbox_files):
    server = smtp_server()
    cfg = write_config(server)
    with lock.locked(str(state_dir)):             # a real flock, as another run holds it
        result = run("send", "--wait", "0.5", config=cfg)
    assert result.returncode == 75
    assert "another sysreport run" in result.stderr and "holds" in result.stderr
    assert "this report is queued as <sysreport." in result.stderr
    assert server.messages == [] and len(outbox_files()) == 1
    assert run("send", config=cfg).returncode == 0      # and free again afterwards:
    assert len(server.messages) == 2                     # the queued report, then this one
    assert outbox_files() == []


def test_two_runs_at_once_never_send_the_same_message_twice(smtp_server, write_config,
                                                             state_dir, tmp_path):
    import subprocess
    from conftest import _clean_env, sysreport_command

    server = smtp_server()
    cfg = write_config(server)
    for i in range(3):
        Outbox(str(state_dir)).add(a_message("queued %d" % i).as_bytes())
    procs = [subprocess.Popen(sysreport_command() + ["--config", str(cfg), "flush"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_clean_env(), stdin=subprocess.DEVNULL) for _ in range(4)]
    codes = [p.wait(timeout=60) for p in procs]
    assert codes == [0, 0, 0, 0]
    ids = [m.message["Message-ID"] for m in server.messages]
    assert len(ids) == 3 and len(set(ids)) == 3


# --------------------------------------------------------------------------- classification

@pytest.mark.parametrize("exc, stage, kind, code", [
    (smtplib.SMTPAuthenticationError(534, b"5.7.9 Application-specific password required"),
     "logging in", "auth", 78),
    (smtplib.SMTPAuthenticationError(535, b"5.7.8 Username and Password not accepted"),
     "logging in", "auth", 78),
    (smtplib.SMTPConnectError(421, b"Service not available"), "connecting", "tempfail", 75),
    (smtplib.SMTPDataError(450, b"mailbox busy"), "sending", "tempfail", 75),
    (smtplib.SMTPDataError(552, b"too big"), "sending", "rejected", 75),
    (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), "sending", "dropped", 75),
    (socket.gaierror(-2, "Name or service not known"), "connecting", "dns", 75),
    (ConnectionRefusedError(111, "Connection refused"), "connecting", "refused", 75),
    (socket.timeout("timed out"), "connecting", "timeout", 75),
    (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "connecting", "tls", 75),
    (smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."),
     "logging in", "protocol", 78),
    # smtplib raises SMTPAuthenticationError for every AUTH reply: a 4xx is for now only
    (smtplib.SMTPAuthenticationError(454, b"4.7.0 Too many login attempts, please try later"),
     "logging in", "tempfail", 75),
    (smtplib.SMTPAuthenticationError(421, b"4.7.0 Temporary System Problem"),
     "logging in", "tempfail", 75),
    # smtp.oauth2_file: Google's token endpoint refusing a revoked refresh token
    (urllib.error.HTTPError("https://accounts.google.com/o/oauth2/token", 400, "Bad Request",
                            None, None), "logging in", "auth", 78),
    (urllib.error.URLError(socket.timeout("timed out")), "logging in", "network", 75),
])
def test_classify(exc, stage, kind, code):
    failure = failures.classify(exc, "smtp.gmail.com:465", stage)
    assert (failure.kind, failure.exit_code) == (kind, code)
    if kind == "auth" and isinstance(exc, smtplib.SMTPException):
        assert failure.advice == failures.GMAIL_AUTH_ADVICE
    elif kind == "auth":
        assert "create smtp.oauth2_file again" in failure.advice


def test_classify_reraises_what_is_not_a_delivery_failure():
    with pytest.raises(ZeroDivisionError):
        failures.classify(ZeroDivisionError(), "x:1", "sending")


def test_yagmail_is_never_asked_for_a_password_it_would_prompt_for(write_config, monkeypatch):
    # no password anywhere: ConfigError before yagmail could reach keyring or getpass
    monkeypatch.delenv("SYSREPORT_SMTP_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    from sysreport.deliver.smtp import credentials
    cfg = configuration.load(str(write_config(None, **{"smtp.password_file": None})))
    with pytest.raises(configuration.ConfigError) as info:
        credentials(cfg)
    assert "no SMTP password" in str(info.value)


# --------------------------------------------------------------------------- standalone server

def test_the_standalone_smtp_server_as_molecule_runs_it(tmp_path, run, password_file,
                                                        write_config, outbox_files):
    import signal
    import subprocess
    import sys
    from conftest import TESTS
    from smtp_server import free_port

    port, mbox = free_port(), tmp_path / "mbox"
    server = subprocess.Popen([sys.executable, str(TESTS / "smtp_server.py"), "--port", str(port),
                               "--tls", "starttls", "--user", USER,
                               "--password-file", str(password_file), "--mbox", str(mbox)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = server.stdout.readline()          # printed once it listens
        assert ready.startswith("listening on 127.0.0.1:%d (starttls)" % port), \
            ready + server.stderr.read()
        cfg = write_config(None, **{"smtp.port": port, "smtp.security": "starttls",
                                    "smtp.ca_file": str(mbox / "ca.pem")})
        result = run("send", config=cfg)
        assert result.returncode == 0, result.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    [eml] = sorted(mbox.glob("*.eml"))
    assert b"X-Sysreport-Status:" in eml.read_bytes()
    assert (mbox / "auth.log").read_text().splitlines() == ["PLAIN %s ok" % USER]
    assert PASSWORD not in (mbox / "auth.log").read_text()
    assert outbox_files() == []
