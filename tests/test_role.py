"""Fast checks of roles/sysreport, the playbooks and the Molecule scenarios (no containers).

The real behaviour (install, units, email, secrets, removal) is proven by Molecule:
tests/run-molecule.sh, `make test-molecule`. These run in seconds on every `make test`:
lint with the production profile, the README table against the argument specs, syntax,
the TOML the role renders (parsed by tomllib and accepted by the agent's own
check-config), the argument specs' validation, and the secret hygiene of the tasks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLE = ROOT / "roles" / "sysreport"
BIN = Path(sys.executable).parent
ENV = dict(os.environ, PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), ANSIBLE_FORCE_COLOR="0",
           ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))


def run(*argv, **kwargs):
    return subprocess.run(argv, cwd=ROOT, env=kwargs.pop("env", ENV), capture_output=True, text=True,
                          timeout=kwargs.pop("timeout", 300), **kwargs)


def test_ansible_lint_production_profile():
    result = run(str(BIN / "ansible-lint"), "--profile", "production", "--offline", "--nocolor",
                 "roles/sysreport", "playbooks", "molecule/default", "molecule/index", "molecule/shared")
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_config_skips_no_rule():
    """No whole rule switched off: every exception is a noqa with its reason."""
    for name in (".ansible-lint", ".config/ansible-lint.yml"):
        path = ROOT / name
        if path.exists():
            config = yaml.safe_load(path.read_text()) or {}
            assert not config.get("skip_list"), config
            assert not config.get("warn_list"), config


def test_readme_table_is_generated_from_argument_specs():
    result = run(sys.executable, str(ROLE / "docs" / "generate_readme.py"), "--check")
    assert result.returncode == 0, result.stderr


def test_every_default_is_specified_and_every_spec_default_matches():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(defaults) <= set(specs), set(defaults) - set(specs)
    for name, value in defaults.items():
        assert specs[name].get("default") == value, name
    for name, spec in specs.items():
        assert spec.get("description"), name
        assert name in defaults or spec.get("no_log"), "%s: no default and not a secret" % name


@pytest.mark.parametrize("playbook", ["playbooks/site.yml", "molecule/default/converge.yml",
                                      "molecule/shared/prepare.yml", "molecule/shared/verify.yml",
                                      "molecule/shared/absent.yml", "molecule/index/prepare.yml",
                                      "molecule/index/upgrade.yml"])
def test_syntax_check(playbook):
    result = run(str(BIN / "ansible-playbook"), "--syntax-check", playbook)
    assert result.returncode == 0, result.stdout + result.stderr


def test_vault_files_are_encrypted():
    for path in ("playbooks/inventory/group_vars/all/vault.yml", "molecule/shared/vars/vault.yml"):
        assert (ROOT / path).read_text().startswith("$ANSIBLE_VAULT;1.2;AES256;test\n"), path


def test_secret_tasks_are_no_log_and_no_diff():
    """Every task that passes a secret variable on hides its arguments and its diff.

    (An assert only tests a secret's presence; its output names the condition, not the value.)
    """
    secret = re.compile(r"(?<!\w)sysreport_(smtp_password|api_token)(?!\w)")
    offenders = []
    for path in sorted((ROLE / "tasks").glob("*.yml")):
        def walk(tasks):
            for task in tasks or []:
                walk(task.get("block"))
                walk(task.get("rescue"))
                walk(task.get("always"))
                if "block" in task:
                    continue
                body = {k: v for k, v in task.items() if k not in ("when", "name")}
                if "ansible.builtin.assert" in task:
                    continue
                if secret.search(json.dumps(body, default=str)):
                    if task.get("no_log") is not True or task.get("diff") is not False:
                        offenders.append("%s: %s" % (path.name, task.get("name")))
        walk(yaml.safe_load(path.read_text()))
    assert not offenders, offenders


# ----------------------------------------------------------------- rendering and validation

def render_config(tmp_path, variables):
    """Render sysreport.toml.j2 on the controller with the role's defaults and vars."""
    out = tmp_path / "sysreport.toml"
    playbook = tmp_path / "render.yml"
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(variables))
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False,
        "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
        "tasks": [{"name": "Render the configuration.",
                   "ansible.builtin.template": {"src": str(ROLE / "templates" / "sysreport.toml.j2"),
                                                "dest": str(out), "mode": "0644"}}],
    }], allow_unicode=True))
    result = run(str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", "@%s" % extra,
                 str(playbook))
    assert result.returncode == 0, result.stdout + result.stderr
    return out


EDGE = {
    "sysreport_mail_to": ['Ops "On Call" <ops@example.com>', "ünï@example.com"],
    "sysreport_smtp_username": "reports@example.com",
    "sysreport_subject_prefix": '[a "quoted" \\ back\tslash\x7f é 🙂]',
    "sysreport_hostname": "host\nwith newline",
    "sysreport_sections": ["cpu", "memory"],
    "sysreport_thresholds": {"disk_percent": {"warn": 85, "crit": 95}, "failed_units": "warn",
                             "recent_reboot_hours": 0},
    "sysreport_mount_thresholds": [{"mount": '/srv/with "quotes" \\ and ]', "disk_percent": {"warn": 90, "crit": 99}},
                                   {"mount": "/var/lib/docker", "inode_percent": {"warn": 70, "crit": 80}}],
    "sysreport_api_enabled": True,
}


def test_rendered_toml_keeps_every_string_exactly(tmp_path):
    path = render_config(tmp_path, EDGE)
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    assert config["mail"]["to"] == EDGE["sysreport_mail_to"]
    assert config["mail"]["subject_prefix"] == EDGE["sysreport_subject_prefix"]
    assert config["report"]["hostname"] == EDGE["sysreport_hostname"]
    assert config["thresholds"]["disk_percent"] == {"warn": 85.0, "crit": 95.0}
    assert config["thresholds"]["failed_units"] == "warn"
    assert config["thresholds"]["mounts"]['/srv/with "quotes" \\ and ]'] == {"disk_percent": {"warn": 90.0, "crit": 99.0}}
    assert config["thresholds"]["mounts"]["/var/lib/docker"] == {"inode_percent": {"warn": 70.0, "crit": 80.0}}
    assert config["smtp"]["password_file"] == ""
    assert config["api"]["listen"] == "127.0.0.1"


def test_rendered_toml_defaults_pass_the_agents_check_config(tmp_path):
    agent = shutil.which("sysreport", path=str(BIN))
    if agent is None:
        pytest.skip("the agent is not installed in the venv (make venv)")
    path = render_config(tmp_path, {"sysreport_mail_to": ["ops@example.com"],
                                    "sysreport_smtp_username": "reports@example.com"})
    result = run(agent, "check-config", "--config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    path = render_config(tmp_path, EDGE)
    result = run(agent, "check-config", "--config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variables, message", [
    ({"sysreport_smtp_security": "ssl"}, "sysreport_smtp_security"),
    ({"sysreport_smtp_port": "not-a-port"}, "sysreport_smtp_port"),
    ({"sysreport_sections": ["cpu", "gpu"]}, "sysreport_sections"),
    ({"sysreport_thresholds": {"disk_percent": {"warn": 80}}}, "crit"),
    ({"sysreport_mount_thresholds": [{"disk_percent": {"warn": 80, "crit": 90}}]}, "mount"),
])
def test_argument_specs_reject_bad_values_before_any_change(tmp_path, variables, message):
    playbook = tmp_path / "bad.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False,
                                         "roles": [{"role": "sysreport", "vars": variables}]}]))
    result = run(str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook))
    assert result.returncode != 0
    assert "Validating arguments against arg spec" in result.stdout
    assert message in result.stdout
    # Nothing but the validation ran: the probe never did.
    assert "Read the state of sysreport" not in result.stdout


def test_preflight_names_every_problem_in_plain_sentences(tmp_path):
    """The probe reads this machine (changing nothing); the assertion then refuses it with
    one sentence per problem: here, the missing recipients, username and password."""
    playbook = tmp_path / "incomplete.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False,
                                         "roles": [{"role": "sysreport"}]}]))
    result = run(str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Read the state of sysreport" in result.stdout
    failure = [line for line in result.stdout.splitlines() if "msg:" in line or "Set " in line]
    text = " ".join(" ".join(failure).split())
    for sentence in ("Set at least one address in sysreport_mail_to.",
                     "Set sysreport_smtp_username (the Gmail address).",
                     "Set sysreport_smtp_password from a Vault-encrypted file."):
        assert sentence in text, result.stdout
    assert "[ '" not in result.stdout and "' ]" not in result.stdout   # not a list's characters
    assert re.search(r"localhost\s*: ok=\d+\s+changed=0\s", result.stdout), result.stdout


def test_preflight_refuses_out_of_range_values_and_inverted_thresholds(tmp_path):
    """What argument_specs.yml cannot express (ranges, warn against crit) is refused in
    one sentence each, before anything changes."""
    playbook = tmp_path / "out_of_range.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "roles": [{
        "role": "sysreport", "vars": {
            "sysreport_mail_to": ["ops@example.com"], "sysreport_smtp_username": "reports@example.com",
            "sysreport_smtp_password": "not-checked-here", "sysreport_cpu_sample_seconds": 5,
            "sysreport_randomized_delay_sec": -1, "sysreport_api_port": 80,
            "sysreport_thresholds": {"disk_percent": {"warn": 95, "crit": 80},
                                     "days_until_full": {"warn": 2, "crit": 5},
                                     "memory_percent": {"warn": 90, "crit": 90}},
            "sysreport_mount_thresholds": [{"mount": "/var", "inode_percent": {"warn": 99, "crit": 50}}]}}]}]))
    result = run(str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook))
    assert result.returncode == 2, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    for sentence in ("sysreport_cpu_sample_seconds is 5; it must be more than 0 and at most 2.",
                     "sysreport_randomized_delay_sec is -1; it must be at least 0.",
                     "sysreport_api_port is 80; it must be at least 1024 and at most 65535.",
                     "Thresholds disk_percent: warn 95 and crit 80 are the wrong way round (warn <= crit).",
                     "Thresholds days_until_full: warn 2 and crit 5 are the wrong way round "
                     "(fewer days is worse: warn >= crit).",
                     "Thresholds inode_percent of /var: warn 99 and crit 50 are the wrong way round"):
        assert sentence in text, result.stdout
    assert "memory_percent" not in text                       # warn == crit is allowed
    assert "sysreport_top_processes" not in text              # the defaults pass
    assert re.search(r"localhost\s*: ok=\d+\s+changed=0\s", result.stdout), result.stdout


def test_preflight_ranges_are_the_agents_own():
    """Every range the role checks for an agent key is the one check-config enforces:
    the agent accepts both ends (or refuses an open minimum) and refuses just outside."""
    sys.path.insert(0, str(ROOT / "agent"))
    from sysreport.config import SCHEMA

    ranges = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["_sysreport_ranges"]
    checked = 0
    for entry in ranges:
        if "key" not in entry:
            continue
        section, name = entry["key"].split(".")
        check = SCHEMA[section][name].check
        low = entry["min"]
        if entry.get("min_open"):
            assert check(low) is not None and check(low + 0.001) is None, entry
        else:
            assert check(low) is None and check(low - 1) is not None, entry
        if "max" in entry:
            assert check(entry["max"]) is None and check(entry["max"] + 1) is not None, entry
        else:
            assert check(10 ** 9) is None, entry
        checked += 1
    assert checked >= 7


def test_boolean_variables_are_always_read_through_the_bool_filter():
    """`-e sysreport_api_enabled=false` arrives as the string "false", which Jinja finds
    true: every read of a bool-typed variable must go through `| bool`."""
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    booleans = [name for name, spec in specs.items() if spec.get("type") == "bool"]
    assert "sysreport_api_enabled" in booleans
    unfiltered = []
    for path in sorted(ROLE.glob("*/*")):
        if path.suffix not in (".yml", ".j2") or path.parent.name in ("meta", "defaults"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for name in booleans:
                for match in re.finditer(r"\b%s\b(?!\s*\|\s*bool)" % name, line):
                    if not re.search(r"(Set|set) %s=" % name, line):   # a message naming it
                        unfiltered.append("%s:%d: %s" % (path.relative_to(ROOT), number, line.strip()))
    assert not unfiltered, "\n".join(unfiltered)
