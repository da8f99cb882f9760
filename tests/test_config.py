"""Configuration: defaults, loading, overrides, the password, and check-config's one-line
errors (the real CLI, as a subprocess)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import PASSWORD, ROOT, to_toml
from sysreport import config as configuration
from sysreport.config import ConfigError


# --------------------------------------------------------------------------- defaults

def test_defaults_are_the_contract():
    d = configuration.defaults()
    assert d.path is None
    assert (d.report.hostname, d.report.top_processes, d.report.cpu_sample_seconds,
            d.report.only_when_not_ok, d.report.sections) == ("", 5, 0.1, False, [])
    assert (d.mail.to, d.mail["from"], d.mail.subject_prefix) == ([], "", "[sysreport]")
    assert (d.smtp.host, d.smtp.port, d.smtp.security, d.smtp.timeout) == \
        ("smtp.gmail.com", 465, "tls", 30)
    assert d.smtp.password_env == "SYSREPORT_SMTP_PASSWORD"
    assert (d.state.directory, d.state.history_keep, d.state.outbox_max_messages,
            d.state.outbox_max_age_days) == ("/var/lib/sysreport", 90, 30, 14)
    t = d.thresholds
    assert (t.cpu_percent.warn, t.cpu_percent.crit) == (90, 98)
    assert (t.load_per_core.warn, t.load_per_core.crit) == (2.0, 4.0)
    assert (t.memory_percent.warn, t.memory_percent.crit) == (85, 95)
    assert (t.swap_percent.warn, t.swap_percent.crit) == (50, 80)
    assert (t.disk_percent.warn, t.disk_percent.crit) == (80, 90)
    assert (t.inode_percent.warn, t.inode_percent.crit) == (80, 90)
    assert (t.days_until_full.warn, t.days_until_full.crit) == (14, 3)
    assert (t.temperature_celsius.warn, t.temperature_celsius.crit) == (80, 90)
    assert (t.failed_units, t.recent_reboot_hours, t.mounts) == ("crit", 24, {})
    assert (d.api.listen, d.api.port, d.api.token_file, d.api.show_cmdline) == \
        ("127.0.0.1", 8765, "", False)


def test_defaults_are_independent_copies():
    a = configuration.defaults()
    a.mail.to.append("x@example.com")
    assert configuration.defaults().mail.to == []


def test_sections_are_read_only():
    with pytest.raises(AttributeError):
        configuration.defaults().smtp.port = 25


# --------------------------------------------------------------------------- loading

def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sysreport.toml"
    path.write_text(text)
    return path


def test_load_merges_the_file_over_the_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    path = write(tmp_path, to_toml({
        "report": {"top_processes": 9},
        "mail": {"to": ["ops@example.com"]},
        "smtp": {"username": "me@example.com", "security": "starttls", "port": 587},
        "thresholds": {"disk_percent": {"warn": 70, "crit": 85}},
        "state": {"directory": "/srv/state"},
    }) + '[thresholds.mounts."/var"]\ndisk_percent = {warn = 90, crit = 95}\n')
    cfg = configuration.load(str(path))
    assert cfg.path == str(path)
    assert cfg.report.top_processes == 9 and cfg.report.cpu_sample_seconds == 0.1
    assert cfg.mail["from"] == "me@example.com"          # "" = smtp.username
    assert cfg.smtp.security == "starttls" and cfg.smtp.port == 587
    assert cfg.thresholds.disk_percent.warn == 70 and cfg.thresholds.memory_percent.warn == 85
    var = cfg.thresholds.mounts["/var"]
    assert (var.disk_percent.warn, var.disk_percent.crit) == (90, 95)
    assert var.inode_percent.warn == 80                  # not overridden: the global one
    assert configuration.mount_thresholds(cfg, "/").disk_percent.warn == 70
    assert configuration.mount_thresholds(cfg, "/var").disk_percent.warn == 90
    assert cfg.state.directory == "/srv/state"
    assert cfg.as_dict()["thresholds"]["mounts"]["/var"]["disk_percent"] == {"warn": 90, "crit": 95}


def test_state_directory_from_systemd_wins(tmp_path, monkeypatch):
    path = write(tmp_path, '[state]\ndirectory = "/srv/state"\n')
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/sysreport:/var/lib/other")
    assert configuration.load(str(path)).state.directory == "/var/lib/sysreport"


def test_sysreport_config_names_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, "[report]\ntop_processes = 2\n")
    monkeypatch.setenv("SYSREPORT_CONFIG", str(path))
    assert configuration.load().report.top_processes == 2
    assert configuration.load(str(write(tmp_path, "[report]\ntop_processes = 4\n"))) \
        .report.top_processes == 4


def test_missing_default_file_means_built_in_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("SYSREPORT_CONFIG", raising=False)
    monkeypatch.setattr(configuration, "DEFAULT_PATH", str(tmp_path / "absent.toml"))
    assert configuration.load().path is None
    with pytest.raises(ConfigError) as info:
        configuration.load(require_file=True)
    assert "absent.toml: file not found" in str(info.value)


def test_a_named_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        configuration.load(str(tmp_path / "nope.toml"))
    assert info.value.problems == ["%s: file not found: create it (see "
                                   "agent/examples/sysreport.toml) or name another with "
                                   "--config" % (tmp_path / "nope.toml")]


# --------------------------------------------------------------------------- the password

def test_password_sources_in_order(tmp_path, monkeypatch):
    creds = tmp_path / "creds"
    creds.mkdir()
    pw_file = tmp_path / "pw"
    pw_file.write_text("from-file\n")
    path = write(tmp_path, '[smtp]\npassword_file = "%s"\npassword_env = "MY_PW"\n' % pw_file)
    cfg = configuration.load(str(path))
    monkeypatch.setenv("MY_PW", "from-env\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    (creds / "smtp-password").write_text("from-credentials\n\n")
    assert configuration.smtp_password(cfg) == "from-credentials\n"   # one newline stripped
    (creds / "smtp-password").unlink()
    assert configuration.smtp_password(cfg) == "from-file"
    pw_file.unlink()
    with pytest.raises(ConfigError) as info:                          # named but gone
        configuration.smtp_password(cfg)
    assert "smtp.password_file: cannot read" in str(info.value)
    cfg = configuration.load(str(write(tmp_path, '[smtp]\npassword_env = "MY_PW"\n')))
    assert configuration.smtp_password(cfg) == "from-env"
    monkeypatch.delenv("MY_PW")
    assert configuration.smtp_password(cfg) is None


def test_an_empty_password_file_says_so(tmp_path, run, smtp_server):
    """Not a login refused with advice about app passwords: the file itself is the fault."""
    server = smtp_server()
    empty = tmp_path / "pw"
    empty.write_text("\n")
    path = write(tmp_path, to_toml({
        "mail": {"to": ["ops@example.com"]},
        "smtp": {"host": "127.0.0.1", "port": server.port, "username": "reports@example.com",
                 "password_file": str(empty), "ca_file": server.ca_file},
        "state": {"directory": str(tmp_path / "state")}}))
    result = run("test-smtp", config=path)
    assert result.returncode == 78
    assert "smtp.password_file: %s is empty; write the (app) password into it" % empty \
        in result.stderr
    assert server.auth == []


def test_a_password_read_is_masked_in_logs(tmp_path, monkeypatch):
    from sysreport.log import _scrub
    monkeypatch.setenv("SYSREPORT_SMTP_PASSWORD", "s3cret-value")
    cfg = configuration.defaults()
    assert configuration.smtp_password(cfg) == "s3cret-value"
    assert _scrub("server said: s3cret-value rejected") == "server said: ******** rejected"


# --------------------------------------------------------------------------- check-config

GOOD = {
    "mail": {"to": ["ops@example.com"]},
    "smtp": {"username": "reports@example.com"},
}

BAD_CASES = [
    # (id, toml text appended to a good file, the expected line after "PATH: ")
    ("unknown key", "[report]\ntop_proceses = 3\n",
     "report.top_proceses: unknown key; did you mean report.top_processes?"),
    ("unknown table", "[reprot]\ntop_processes = 3\n",
     "reprot: unknown table; did you mean [report]?"),
    ("wrong type", '[report]\nonly_when_not_ok = "yes"\n',
     "report.only_when_not_ok: must be true or false, not a string ('yes')"),
    ("string for int", '[report]\ntop_processes = "5"\n',
     "report.top_processes: must be a whole number, not a string ('5')"),
    ("bool for float", "[report]\ncpu_sample_seconds = true\n",
     "report.cpu_sample_seconds: must be a number, not a boolean"),
    ("sample window", "[report]\ncpu_sample_seconds = 5.0\n",
     "report.cpu_sample_seconds: must be in (0.0, 2.0]"),
    ("unknown section", '[report]\nsections = ["cpu", "memroy"]\n',
     "report.sections: unknown section 'memroy'; did you mean 'memory'?"),
    ("no such section", '[report]\nsections = ["disks"]\n',
     "report.sections: unknown section 'disks'; use some of: host, cpu, load, "
     "memory, swap, filesystems, network, processes, systemd, users, temperatures"),
    ("security choice", '[smtp]\nsecurity = "ssl"\n',
     "smtp.security: 'ssl' is not one of 'tls', 'starttls'"),
    ("port range", "[smtp]\nport = 70000\n", "smtp.port: must be in [1, 65535]"),
    ("starttls on 465", '[smtp]\nsecurity = "starttls"\n',
     'smtp.port: 465 speaks TLS from the first byte, not STARTTLS; use security = "tls", '
     'or port 587'),
    ("tls on 587", "[smtp]\nport = 587\n",
     'smtp.port: 587 speaks STARTTLS, not TLS from the first byte; use security = "starttls", '
     'or port 465'),
    ("warn above crit", "[thresholds]\ndisk_percent = {warn = 95, crit = 90}\n",
     "thresholds.disk_percent: warn (95) is above crit (90); make warn <= crit"),
    ("not a percentage", "[thresholds]\nmemory_percent = {warn = 85, crit = 120}\n",
     "thresholds.memory_percent.crit: 120 is not a percentage; use 0 to 100"),
    ("days warn below crit", "[thresholds]\ndays_until_full = {warn = 2, crit = 7}\n",
     "thresholds.days_until_full: warn (2) is below crit (7); fewer days is worse, so warn "
     "must be >= crit"),
    ("threshold missing crit", "[thresholds]\nswap_percent = {warn = 50}\n",
     "thresholds.swap_percent.crit: missing; give both warn and crit"),
    ("failed_units choice", '[thresholds]\nfailed_units = "fatal"\n',
     "thresholds.failed_units: 'fatal' is not one of 'warn', 'crit', 'ignore'"),
    ("relative mount", '[thresholds.mounts."var/lib"]\ndisk_percent = {warn = 90, crit = 95}\n',
     'thresholds.mounts."var/lib": \'var/lib\' is a relative path; name the mount point as an '
     'absolute path, like "/var"'),
    ("unknown mount key", '[thresholds.mounts."/var"]\ndisk_precent = {warn = 90, crit = 95}\n',
     'thresholds.mounts."/var".disk_precent: unknown key; did you mean '
     'thresholds.mounts."/var".disk_percent?'),
    ("password file missing", '[smtp]\npassword_file = "/nonexistent/pw"\n',
     "smtp.password_file: /nonexistent/pw does not exist; create it or fix the path"),
    ("password file is a directory", '[smtp]\npassword_file = "/"\n',
     "smtp.password_file: / is a directory; name the file"),
    ("password file relative", '[smtp]\npassword_file = "pw.txt"\n',
     "smtp.password_file: 'pw.txt' is a relative path; use an absolute one"),
    ("relative state directory", '[state]\ndirectory = "state"\n',
     "state.directory: 'state' is not an absolute path; use one like \"/var/lib/sysreport\""),
    ("outbox bound", "[state]\noutbox_max_messages = 0\n",
     "state.outbox_max_messages: must be >= 1"),
    ("bad env name", '[smtp]\npassword_env = "MY-PW"\n',
     "smtp.password_env: 'MY-PW' is not an environment variable name; use letters, digits and _"),
    ("toml syntax", "[report]\ntop_processes = \n",
     "line 6, column 17: TOML syntax error: Invalid value; fix the syntax there"),
]


def _good_with(extra: str) -> str:
    """A valid file (recipient, login) plus `extra`, merging an [smtp] table in extra."""
    login = 'username = "reports@example.com"\n'
    if "[smtp]\n" in extra:
        return '[mail]\nto = ["ops@example.com"]\n' + extra.replace("[smtp]\n", "[smtp]\n" + login, 1)
    return '[mail]\nto = ["ops@example.com"]\n[smtp]\n' + login + extra


@pytest.mark.parametrize("extra, expected", [c[1:] for c in BAD_CASES],
                         ids=[c[0] for c in BAD_CASES])
def test_check_config_gives_exactly_one_line_per_problem(extra, expected, tmp_path, run):
    path = write(tmp_path, _good_with(extra))
    result = run("check-config", config=path)
    assert result.returncode == 78, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["%s: %s" % (path, expected)]


@pytest.mark.parametrize("section, key, value, expected", [
    ("mail", "to", ["not-an-address"], "mail.to: 'not-an-address' is not an e-mail address; "
                                       "write it as user@example.com"),
    ("mail", "to", [], 'mail.to: no recipients; add at least one, like to = ["ops@example.com"]'),
    ("mail", "to", ["a@example.com, b@example.com"],
     "mail.to: 'a@example.com, b@example.com' is not one e-mail address (one per entry, no line "
     "breaks); write it as user@example.com"),

    ("mail", "from", "Reports <broken", "mail.from: 'Reports <broken' is not an e-mail address; "
                                        'write it as user@example.com or "Name <user@example.com>"'),
    ("smtp", "username", "", "smtp.username: empty; set the login name (for Gmail the full "
                             "address)"),
])
def test_check_config_addresses(section, key, value, expected, tmp_path, run):
    tables = {"mail": dict(GOOD["mail"]), "smtp": dict(GOOD["smtp"])}
    tables[section][key] = value
    path = write(tmp_path, to_toml(tables))
    result = run("check-config", config=path)
    assert result.returncode == 78
    assert result.stdout.splitlines() == ["%s: %s" % (path, expected)]


def test_send_to_refuses_a_line_break_in_an_address(run):
    result = run("send", "--dry-run", "--to", "a@example.com\nBcc: z@example.net")
    assert result.returncode == 2
    assert "is not one e-mail address (one per entry, no line breaks)" in result.stderr


def test_check_config_reports_every_problem_at_once(tmp_path, run):
    path = write(tmp_path, _good_with("".join(c[1] for c in BAD_CASES[:2]) +
                                      '[smtp]\nport = "x"\npassword_file = "/nonexistent/pw"\n'))
    result = run("check-config", config=path)
    assert result.returncode == 78
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and all(line.startswith("%s: " % path) for line in lines)


def test_check_config_accepts_a_good_file(tmp_path, run, password_file):
    path = write(tmp_path, to_toml({"mail": GOOD["mail"], "smtp": dict(
        GOOD["smtp"], password_file=str(password_file))}))
    result = run("check-config", config=path)
    assert (result.returncode, result.stdout) == (0, "%s: OK\n" % path)


def test_check_config_of_a_missing_or_unreadable_file(tmp_path, run):
    result = run("check-config", config=tmp_path / "absent.toml")
    assert result.returncode == 78
    assert result.stdout.startswith("%s: file not found" % (tmp_path / "absent.toml"))
    binary = write(tmp_path, "")
    binary.write_bytes(b"[report]\nhostname = \"\xff\"\n")
    result = run("check-config", config=binary)
    assert result.returncode == 78 and "not UTF-8" in result.stdout


def test_commands_that_send_refuse_a_bad_config_with_78(tmp_path, run):
    path = write(tmp_path, _good_with("[report]\ntop_proceses = 3\n"))
    for command in (["send"], ["flush"], ["test-smtp"], ["collect"]):
        result = run(*command, config=path)
        assert result.returncode == 78, command
        assert "ERROR %s: report.top_proceses: unknown key" % path in result.stderr


def test_the_example_file_is_valid(run, password_file, tmp_path):
    example = ROOT / "agent" / "examples" / "sysreport.toml"
    text = example.read_text()
    # the example names /etc/sysreport/smtp-password; point it at a file that exists
    text = text.replace('"/etc/sysreport/smtp-password"', '"%s"' % password_file)
    path = write(tmp_path, text)
    result = run("check-config", config=path)
    assert (result.returncode, result.stdout) == (0, "%s: OK\n" % path)


def test_the_readme_table_is_generated_from_the_schema():
    readme = (ROOT / "agent" / "README.md").read_text()
    start, end = "<!-- config-table:start -->\n", "<!-- config-table:end -->"
    table = readme[readme.index(start) + len(start):readme.index(end)]
    assert table == configuration.markdown_table(), "run `make docs` to regenerate it"


def test_the_example_names_every_key_with_its_default():
    example = configuration.toml_module().loads(
        (ROOT / "agent" / "examples" / "sysreport.toml").read_text())
    own_values = {("mail", "to"), ("smtp", "username"), ("smtp", "password_file")}
    for table, keys in configuration.SCHEMA.items():
        for name, key in keys.items():
            assert name in example.get(table, {}), "the example lacks %s.%s" % (table, name)
            if (table, name) not in own_values:
                assert example[table][name] == key.default, (table, name)


def test_no_password_in_check_config_output(tmp_path, run, password_file):
    # a password file is read by nobody but `send`: check-config only checks it is there
    path = write(tmp_path, to_toml({"mail": GOOD["mail"], "smtp": dict(
        GOOD["smtp"], password_file=str(password_file))}))
    result = run("check-config", "--verbose", config=path)
    assert PASSWORD not in result.stdout + result.stderr
    assert os.path.exists(password_file)
