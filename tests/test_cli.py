"""The `sysreport` command as users and systemd run it: a subprocess, real files."""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys

import pytest

from conftest import _clean_env, sysreport_command

SECTIONS = ("host", "cpu", "load", "memory", "swap", "filesystems", "network", "processes",
            "systemd", "users", "temperatures")


@pytest.fixture
def quick_config(tmp_path, state_dir):
    """A config with a short CPU window and a state directory that must stay untouched."""
    path = tmp_path / "quick.toml"
    path.write_text('[report]\ncpu_sample_seconds = 0.05\n[state]\ndirectory = "%s"\n'
                    % state_dir)
    return path


def test_collect_text(run, quick_config, state_dir):
    result = run("collect", config=quick_config)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert any(status in first for status in ("OK", "WARN", "CRIT"))
    assert "HOST" in result.stdout and "MEMORY" in result.stdout
    assert not state_dir.exists()                 # collect touches no state


def test_collect_json_is_the_contract_document(run, quick_config):
    result = run("collect", "--format", "json", config=quick_config)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1 and doc["status"] in ("OK", "WARN", "CRIT")
    for section in SECTIONS:
        assert section in doc
        assert doc[section] is not None or section in doc["unavailable"]
    assert doc["memory"]["total"] > 0 and isinstance(doc["problems"], list)


def test_collect_html(run, quick_config):
    result = run("collect", "--format", "html", config=quick_config)
    assert result.returncode == 0
    assert result.stdout.lstrip().lower().startswith("<!doctype html") or \
        "<html" in result.stdout.lower()


def test_empty_config_file_means_defaults(run):
    result = run("collect", "--format", "json", config="/dev/null")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cpu"]["sample_seconds"] == pytest.approx(0.1, abs=0.05)


def test_collect_on_built_in_defaults_when_the_default_file_is_absent(run):
    if os.path.exists("/etc/sysreport/sysreport.toml"):
        pytest.skip("this machine has /etc/sysreport/sysreport.toml")
    result = run("collect")
    assert result.returncode == 0, result.stderr
    result = run("send")                          # sending needs the file
    assert result.returncode == 78
    assert "/etc/sysreport/sysreport.toml: file not found" in result.stderr


def test_sysreport_config_variable_names_the_file(run, tmp_path):
    result = run("collect", env={"SYSREPORT_CONFIG": str(tmp_path / "absent.toml")})
    assert result.returncode == 78
    assert result.stderr == "ERROR %s: file not found: create it (see " \
        "agent/examples/sysreport.toml) or name another with --config\n" % (tmp_path / "absent.toml")


def test_a_broken_pipe_ends_quietly(quick_config):
    command = sysreport_command() + ["--config", str(quick_config), "collect", "--format", "json"]
    producer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=_clean_env(), stdin=subprocess.DEVNULL)
    producer.stdout.read(10)
    producer.stdout.close()                       # like `| head -c 10`
    _, err = producer.communicate(timeout=60)
    assert producer.returncode == 0
    assert b"Traceback" not in err and b"BrokenPipe" not in err


@pytest.mark.parametrize("command", [[], ["collect"], ["send"], ["flush"], ["check-config"],
                                     ["test-smtp"], ["preview"], ["digest"], ["serve"]])
def test_help_on_every_command_and_flag(run, command):
    result = run(*(command + ["--help"]))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    options = [line.strip() for line in lines if line.strip().startswith("--")
               and "--help" not in line]
    for option in options:                         # every flag has its help text
        words = option.split("  ", 1)
        follow = lines[lines.index(next(l for l in lines if l.strip() == option)) + 1] \
            if len(words) == 1 else words[1]
        assert follow.strip(), option


@pytest.mark.parametrize("args", [["frobnicate"], ["collect", "--format", "xml"],
                                  ["send", "--to", "not-an-address"], ["preview"]])
def test_usage_errors_exit_2(run, args):
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: sysreport")


def test_version(run):
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("sysreport 0.")


def test_options_may_follow_the_command(run, quick_config):
    result = run("collect", "--config", str(quick_config), "--verbose", "--format", "json")
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)


def test_preview_writes_html_and_a_whole_message(run, quick_config, tmp_path, state_dir):
    out = tmp_path / "preview"
    result = run("preview", "--output", str(out), config=quick_config)
    assert result.returncode == 0, result.stderr
    html = (out / "report.html").read_text()
    assert "<html" in html.lower()
    msg = email.message_from_bytes((out / "report.eml").read_bytes(), policy=email.policy.default)
    assert msg["X-Sysreport-Status"] in ("OK", "WARN", "CRIT")
    assert msg.get_body(("html",)).get_content() .strip() == html.strip()
    assert "HOST" in msg.get_body(("plain",)).get_content()
    assert not state_dir.exists()


def test_preview_into_an_unwritable_place_is_one_line(run, quick_config):
    result = run("preview", "--output", "/dev/null/x", config=quick_config)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("ERROR ")


def test_send_dry_run_on_built_in_defaults(run):
    result = run("send", "--dry-run", "--to", "ops@example.com", config="/dev/null")
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.partition("\n\n")
    assert "To: ops@example.com" in head.splitlines()
    assert "HOST" in body


def test_flush_with_an_empty_outbox_does_not_connect(run, write_config):
    cfg = write_config(None)                      # nothing listens on its port
    result = run("flush", config=cfg)
    assert result.returncode == 0, result.stderr
    assert "outbox empty" in result.stderr


def test_journald_gets_priority_prefixes(tmp_path, quick_config):
    log = tmp_path / "stderr"
    with open(log, "w") as handle:
        st = os.fstat(handle.fileno())
        subprocess.run(sysreport_command() + ["--config", str(quick_config), "preview",
                                              "--output", str(tmp_path / "p")],
                       stdout=subprocess.DEVNULL, stderr=handle, stdin=subprocess.DEVNULL,
                       env=_clean_env({"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)}),
                       timeout=60, check=True)
    lines = log.read_text().splitlines()
    assert lines and all(line.startswith("<6>wrote ") for line in lines)


def test_plain_stderr_gets_level_names(run, quick_config, tmp_path):
    result = run("preview", "--output", str(tmp_path / "p"), config=quick_config,
                 env={"JOURNAL_STREAM": "1:1"})       # not our stderr: ignored
    assert result.stderr.splitlines()[0].startswith("INFO wrote ")


def test_collect_imports_nothing_heavy(quick_config):
    code = ("import sys\n"
            "from sysreport import cli\n"
            "code = cli.main(['--config', sys.argv[1], 'collect', '--format', 'json'])\n"
            "heavy = sorted(m for m in ('yagmail', 'fastapi', 'uvicorn', 'premailer', 'smtplib',"
            " 'email.mime.multipart', 'sysreport.deliver.smtp') if m in sys.modules)\n"
            "sys.stderr.write('HEAVY=%r\\n' % heavy)\n"
            "sys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", code, str(quick_config)], capture_output=True,
                            text=True, env=_clean_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "HEAVY=[]" in result.stderr


def test_digest_front_door_is_dispatched(run, tmp_path):
    result = run("digest", "--input", str(tmp_path / "absent.json"), "--dry-run",
                 config="/dev/null")
    assert result.returncode == 78
    assert "absent.json" in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_state_directory_that_cannot_be_used_is_a_config_error(run, write_config, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    cfg = write_config(None, **{"state.directory": str(blocker / "state")})
    result = run("flush", config=cfg)
    assert result.returncode == 78
    assert result.stderr.startswith("ERROR %s/lock: cannot open the lock (Not a directory)"
                                    % (blocker / "state"))


@pytest.mark.parametrize("command", [["preview"], ["digest", "--input", "FLEET"]])
def test_output_directory_that_cannot_be_written_is_one_line(run, quick_config, tmp_path, command):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({"schema_version": 1, "hosts": {}}))
    args = [str(fleet) if a == "FLEET" else a for a in command]
    result = run(*args, "--output", str(blocker / "out"), config=quick_config)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert errors == ["ERROR cannot write %s: Not a directory; choose a directory you can "
                      "write to" % (blocker / "out")], result.stderr
    assert "Traceback" not in result.stderr
    assert blocker.read_text() == "not a directory"
