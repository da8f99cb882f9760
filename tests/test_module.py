"""library/sysreport.py: its pure logic, main() in-process with real arguments, and the
real `ansible localhost -m sysreport` with the project's ansible.cfg (AnsiballZ ships
module_utils/sysreport, the agent's own code)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ansible.module_utils
from ansible.module_utils.common import warnings as _warnings
from ansible.module_utils.testing import patch_module_args

from conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
AGENT = VENV_BIN / "sysreport"

# The module imports ansible.module_utils.sysreport; on a host AnsiballZ provides it from
# module_utils/ (a symlink to agent/sysreport). In-process, the same directory joins the
# ansible.module_utils package path, so the very same files are imported under that name.
if str(ROOT / "module_utils") not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(str(ROOT / "module_utils"))

_spec = importlib.util.spec_from_file_location("sysreport_module", ROOT / "library" / "sysreport.py")
mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mod)


def run_main(capsys, **args):
    """main() with these module arguments: (exit code, result dict)."""
    args.setdefault("config", "/nonexistent/sysreport.toml")
    # Each real run is a new process; in this one, warnings of earlier runs would pile up.
    _warnings._global_warnings.clear()  # pylint: disable=protected-access
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            mod.main()
    out = capsys.readouterr().out
    return exited.value.code, json.loads(out)


# --------------------------------------------------------------------------- pure logic

@pytest.mark.parametrize("host, override, merged", [
    ({}, {}, {}),
    ({"disk_percent": {"warn": 80, "crit": 90}}, {"disk_percent": {"warn": 70, "crit": 85}},
     {"disk_percent": {"warn": 70, "crit": 85}}),
    ({"disk_percent": {"warn": 80, "crit": 90}, "failed_units": "crit"}, {"failed_units": "warn"},
     {"disk_percent": {"warn": 80, "crit": 90}, "failed_units": "warn"}),
    ({"mounts": {"/var": {"disk_percent": {"warn": 90, "crit": 95}}}},
     {"mounts": {"/var": {"inode_percent": {"warn": 1, "crit": 2}}, "/srv": {}}},
     {"mounts": {"/var": {"disk_percent": {"warn": 90, "crit": 95},
                          "inode_percent": {"warn": 1, "crit": 2}}, "/srv": {}}}),
])
def test_merge_thresholds(host, override, merged):
    before = json.dumps(host, sort_keys=True)
    assert mod.merge_thresholds(host, override) == merged
    assert json.dumps(host, sort_keys=True) == before  # the host's table is not modified


def test_module_overrides_only_what_was_given():
    params = dict(sections=[], top_processes=None, cpu_sample_seconds=0.05, thresholds={})
    assert mod.module_overrides(params) == {"report": {"cpu_sample_seconds": 0.05}}
    params = dict(sections=["memory"], top_processes=2, cpu_sample_seconds=0.2,
                  thresholds={"swap_percent": {"warn": 1, "crit": 2}})
    assert mod.module_overrides(params) == {
        "report": {"cpu_sample_seconds": 0.2, "sections": ["memory"], "top_processes": 2},
        "thresholds": {"swap_percent": {"warn": 1, "crit": 2}}}


def test_effective_table_puts_the_options_over_the_host_file():
    host = {"report": {"top_processes": 9, "hostname": "h"}, "mail": {"to": ["a@b.c"]},
            "thresholds": {"disk_percent": {"warn": 80, "crit": 90}}}
    over = {"report": {"cpu_sample_seconds": 0.05, "top_processes": 1},
            "thresholds": {"memory_percent": {"warn": 1, "crit": 2}}}
    assert mod.effective_table(host, over) == {
        "report": {"top_processes": 1, "hostname": "h", "cpu_sample_seconds": 0.05},
        "mail": {"to": ["a@b.c"]},
        "thresholds": {"disk_percent": {"warn": 80, "crit": 90},
                       "memory_percent": {"warn": 1, "crit": 2}}}
    assert host["report"]["top_processes"] == 9


def test_venv_site_packages_only_for_this_python(tmp_path):
    agent = tmp_path / "venv" / "bin" / "sysreport"
    assert mod.venv_site_packages(str(agent)) is None
    site = tmp_path / "venv" / "lib" / ("python%d.%d" % sys.version_info[:2]) / "site-packages"
    site.mkdir(parents=True)
    assert mod.venv_site_packages(str(agent)) == str(site)


# --------------------------------------------------------------------------- main()

def test_the_report_with_status_and_problems(capsys):
    code, result = run_main(capsys)
    assert code == 0
    assert result["changed"] is False and result["sent"] is False
    report = result["report"]
    assert report["schema_version"] == 1
    for section in mod.SECTIONS:
        assert section in report
    assert report["memory"]["total"] > 0
    assert result["status"] == report["status"] in ("OK", "WARN", "CRIT")
    assert result["problems"] == report["problems"]
    assert result["config_path"] is None
    assert report["cpu"]["sample_seconds"] >= 0.05


def test_sections_and_top_processes(capsys):
    code, result = run_main(capsys, sections=["memory", "processes"], top_processes=1)
    assert code == 0
    report = result["report"]
    assert report["memory"] is not None
    assert report["filesystems"] is None and report["host"] is None
    assert len(report["processes"]["by_memory"]) == 1


def test_thresholds_override_the_defaults(capsys):
    code, result = run_main(capsys, sections=["memory"],
                            thresholds={"memory_percent": {"warn": 0, "crit": 0}})
    assert code == 0
    assert result["status"] == "CRIT"
    assert [p["section"] for p in result["problems"]] == ["memory"]


def test_the_host_file_is_read_and_the_options_win(capsys, tmp_path):
    conf = tmp_path / "sysreport.toml"
    conf.write_text('[report]\ntop_processes = 2\n\n[thresholds]\n'
                    'memory_percent = {warn = 0, crit = 0}\n'
                    'swap_percent = {warn = 0, crit = 0}\n')
    code, result = run_main(capsys, config=str(conf), sections=["memory", "swap", "processes"])
    assert code == 0
    assert result["config_path"] == str(conf)
    assert len(result["report"]["processes"]["by_memory"]) == 2
    assert "memory" in [p["section"] for p in result["problems"]]
    code, result = run_main(capsys, config=str(conf), sections=["memory"],
                            thresholds={"memory_percent": {"warn": 100, "crit": 100}})
    assert result["status"] == "OK", result["problems"]


@pytest.mark.parametrize("content, says", [
    ("[report\n", "TOML syntax error"),
    ("[thresholds]\ndisk_percent = {warn = 95, crit = 90}\n", "warn (95) is above crit (90)"),
])
def test_a_broken_host_file_is_skipped_with_a_warning(capsys, tmp_path, content, says):
    conf = tmp_path / "sysreport.toml"
    conf.write_text(content)
    code, result = run_main(capsys, config=str(conf), sections=["memory"])
    assert code == 0
    assert result["config_path"] is None
    assert len(result["warnings"]) == 1
    # the module's side of the protocol: ansible-core 2.19 sends warnings as events
    warning = result["warnings"][0]["event"]["msg"]
    assert warning.startswith("Ignoring the host configuration %s" % conf)
    assert says in warning


@pytest.mark.parametrize("thresholds, says", [
    ({"disk_percent": {"warn": 95, "crit": 90}}, "warn (95) is above crit (90)"),
    ({"disk_percent": {"warn": 95}}, "thresholds.disk_percent.crit: missing"),
    ({"disk_pct": {"warn": 1, "crit": 2}}, "thresholds.disk_pct"),
])
def test_invalid_thresholds_fail_with_what_to_fix(capsys, thresholds, says):
    code, result = run_main(capsys, thresholds=thresholds)
    assert code == 1 and result["failed"] is True
    assert says in result["msg"]
    assert result["msg"].startswith("Invalid options: module options: ")


def test_invalid_options_fail_before_anything_runs(capsys):
    code, result = run_main(capsys, sections=["disks"])
    assert code == 1
    assert "sections" in result["msg"] and "disks" in result["msg"]
    code, result = run_main(capsys, cpu_sample_seconds=5.0)
    assert code == 1 and "report.cpu_sample_seconds" in result["msg"]


def test_send_without_the_agent_says_how_to_fix(capsys, tmp_path):
    code, result = run_main(capsys, send=True, agent=str(tmp_path / "nope" / "sysreport"))
    assert code == 1
    assert "needs the installed agent" in result["msg"]
    assert "sysreport role" in result["msg"]


# write_config, smtp_server, outbox_files, PASSWORD: tests/conftest.py

@pytest.fixture
def clean_env(monkeypatch):
    # The agent runs with the module's environment: no stray credentials from the caller.
    monkeypatch.delenv("SYSREPORT_SMTP_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("SYSREPORT_CONFIG", raising=False)


def test_check_mode_never_sends(capsys, clean_env, smtp_server, write_config, outbox_files):
    server = smtp_server()
    conf = write_config(server)
    code, result = run_main(capsys, send=True, agent=str(AGENT), config=str(conf),
                            _ansible_check_mode=True)
    assert code == 0
    assert result["changed"] is True and result["sent"] is False
    assert result["msg"] == "check mode: would send the report now with: %s --config %s send" \
        % (AGENT, conf)
    assert "rc" not in result
    assert server.messages == [] and outbox_files() == []


def test_send_delivers_through_the_installed_agent(capsys, clean_env, smtp_server,
                                                   write_config):
    server = smtp_server()
    conf = write_config(server)
    code, result = run_main(capsys, send=True, agent=str(AGENT), config=str(conf))
    assert code == 0, result
    assert result["changed"] is True and result["sent"] is True and result["rc"] == 0
    assert result["cmd"] == [str(AGENT), "--config", str(conf), "send"]
    assert len(server.messages) == 1
    assert server.messages[0].rcpt_tos == ["ops@example.com", "oncall@example.com"]
    assert PASSWORD not in json.dumps(result)


def test_send_to_a_server_that_is_down_fails_and_says_the_outbox_keeps_it(capsys, clean_env,
                                                                          write_config,
                                                                          outbox_files):
    conf = write_config(None)        # nothing listens on its port
    code, result = run_main(capsys, send=True, agent=str(AGENT), config=str(conf))
    assert code == 1
    assert result["rc"] == 75 and result["changed"] is True and result["sent"] is False
    assert "stays in the agent's outbox" in result["msg"]
    assert len(outbox_files()) == 1
    assert PASSWORD not in json.dumps(result)


# --------------------------------------------------------------------------- ansible-doc

def test_ansible_doc_renders_the_documentation():
    done = subprocess.run([str(VENV_BIN / "ansible-doc"), "-M", "library", "sysreport"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for option in ("sections", "top_processes", "cpu_sample_seconds", "thresholds", "config",
                   "send", "agent"):
        assert option in out
    assert "EXAMPLES" in out and "RETURN VALUES" in out
    assert "no secret options" in out
    assert "[WARNING]" not in done.stderr


def test_documented_options_match_the_argument_spec():
    import yaml
    doc = yaml.safe_load(mod.DOCUMENTATION)
    spec = mod.argument_spec()
    assert set(doc["options"]) == set(spec)
    for name, option in doc["options"].items():
        assert option["type"] == spec[name]["type"], name
        assert option.get("default") == spec[name].get("default"), name
        assert option.get("choices") == spec[name].get("choices"), name
    yaml.safe_load(mod.EXAMPLES)
    yaml.safe_load(mod.RETURN)


# --------------------------------------------------------------------------- real ansible

def ansible(*args, python=None):
    """`ansible localhost -m sysreport ...` with the project's ansible.cfg; the JSON result."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_LOAD_CALLBACK_PLUGINS="true", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    cmd = [str(VENV_BIN / "ansible"), "localhost", "-m", "sysreport"] + list(args)
    if python:
        cmd += ["-e", "ansible_python_interpreter=%s" % python]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    return done, json_result(done.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def json_result(stdout):
    """The json callback's document; ansible.cfg's profile_tasks prints lines around it."""
    start = stdout.index("\n{\n") + 1 if not stdout.startswith("{") else 0
    return json.JSONDecoder().raw_decode(stdout[start:])[0]


def test_ansible_localhost_returns_the_report():
    done, result = ansible("-a", "sections=memory,filesystems top_processes=3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["changed"] is False
    assert result["report"]["memory"]["total"] > 0
    assert result["report"]["filesystems"]
    assert result["report"]["processes"] is None
    assert result["status"] in ("OK", "WARN", "CRIT")


def test_command_lines_only_with_show_cmdline(secret_argv_process):
    """A password on a command line must not reach Ansible's output and logs by default."""
    child, marker = secret_argv_process
    done, result = ansible("-a", "sections=processes top_processes=3")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = result["report"]["processes"]["by_memory"]
    assert child.pid in [r["pid"] for r in rows]
    assert all("cmdline" not in r for r in rows) and marker not in done.stdout
    done, result = ansible("-a", "sections=processes top_processes=3 show_cmdline=true")
    row = next(r for r in result["report"]["processes"]["by_memory"] if r["pid"] == child.pid)
    assert row["cmdline"].startswith(sys.executable + " -c ")


def python_without_psutil():
    for candidate in ("/usr/bin/python3", shutil.which("python3")):
        if candidate and subprocess.run([candidate, "-c", "import psutil"],
                                        capture_output=True).returncode != 0:
            return candidate
    return None


def test_ansible_without_psutil_fails_with_one_clear_message():
    python = python_without_psutil()
    if python is None:
        pytest.skip("every python3 here has psutil")  # the container tests cover it too
    done, result = ansible("-a", "agent=/nonexistent/bin/sysreport", python=python)
    assert done.returncode != 0
    assert result["failed"] is True
    assert result["msg"].startswith("Failed to import the required Python library (psutil)")
    assert "sysreport role" in result["msg"] and "python3-psutil" in result["msg"]


def test_ansible_uses_psutil_from_the_agent_venv_when_the_python_has_none():
    python = python_without_psutil()
    if python is None:
        pytest.skip("every python3 here has psutil")
    version = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True).stdout.strip()
    if version != "%d.%d" % sys.version_info[:2]:
        pytest.skip("%s is Python %s, the test venv another" % (python, version))
    done, result = ansible("-a", "sections=memory agent=%s" % AGENT, python=python)
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["report"]["memory"]["total"] > 0


def test_only_the_collection_code_rides_along():
    """AnsiballZ ships what the module imports: collect, judge, history, config, report,
    units; not the API, delivery, rendering or the CLI."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    done = subprocess.run([str(VENV_BIN / "ansible"), "localhost", "-m", "sysreport",
                           "-a", "sections=memory", "-vvvvv"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    shipped = sorted({line.split("Including module_utils file ")[1].strip()
                      for line in (done.stdout + done.stderr).splitlines()
                      if "Including module_utils file ansible/module_utils/sysreport/" in line})
    names = {s[len("ansible/module_utils/sysreport/"):] for s in shipped}
    assert {"__init__.py", "config.py", "report.py", "judge.py", "history.py", "units.py",
            "collect/__init__.py", "collect/cpu.py", "collect/processes.py"} <= names
    for name in names:
        assert not name.startswith(("api/", "deliver/", "render/")), name
        assert name not in ("cli.py", "digest.py", "__main__.py"), name


def test_report_now_playbook_sends_through_the_agent(tmp_path, clean_env, smtp_server,
                                                     write_config):
    """playbooks/report_now.yml on this machine (local connection), the real agent of the
    test venv delivering to a loopback SMTP server: one message."""
    server = smtp_server()
    conf = write_config(server)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"here": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "sysreport_agent_command": str(AGENT), "sysreport_agent_config": str(conf)}}}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    done = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inventory),
                           "playbooks/report_now.yml"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "changed: [here]" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr
    assert len(server.messages) == 1
    assert server.messages[0].message["X-Sysreport-Status"] in ("OK", "WARN", "CRIT")


def test_send_on_an_ok_host_with_only_when_not_ok_changes_nothing(capsys, clean_env,
                                                                   smtp_server, write_config):
    server = smtp_server()
    # only memory, which never reaches 100%: this host is OK for the agent too
    conf = write_config(server, **{"report.only_when_not_ok": True, "report.sections": ["memory"],
                                   "thresholds.memory_percent": {"warn": 100, "crit": 100}})
    code, result = run_main(capsys, send=True, agent=str(AGENT), config=str(conf))
    assert code == 0, result
    assert result["status"] == "OK", result["problems"]
    assert result["rc"] == 0
    assert result["changed"] is False and result["sent"] is False
    assert "only_when_not_ok" in result["msg"]
    assert server.messages == []
