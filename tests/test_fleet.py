"""The module and the fleet digest against real Debian containers (systemd as PID 1,
no network), through the community.docker.docker connection:

    srfleet-agent   bookworm, the agent installed in /opt/sysreport/venv from a wheelhouse
                    (the system Python has no psutil: the module finds the venv's)
    srfleet-deb     bookworm, only Debian's python3-psutil .deb
    srfleet-py39    bullseye (Python 3.9), psutil's wheel in the system Python
    srfleet-py313   trixie (Python 3.13), psutil's wheel in the system Python
    srfleet-bare    trixie, neither psutil nor the agent: the module must say how to fix it
    srfleet-down    bookworm, stopped before the play: unreachable

Needs dockerd (tests/setup/start-dockerd.sh) and the images sysreport-debian:* built by
molecule/images/build.sh. In CI (CI=true) their absence fails these tests; elsewhere it
skips them, saying why.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PASSWORD
from test_module import json_result

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PREFIX = "srfleet-"
IMAGES = {"agent": "bookworm", "deb": "bookworm", "py39": "bullseye", "py313": "trixie",
          "bare": "trixie", "down": "bookworm"}
# The container options of molecule/default/molecule.yml.
RUN_OPTIONS = ["--detach", "--network", "none", "--cap-add", "SYS_ADMIN", "--cgroupns", "host",
               "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run",
               "--tmpfs", "/run/lock", "--security-opt", "seccomp=unconfined",
               "--stop-signal", "SIGRTMIN+3"]
# Thresholds loose enough that a container is OK whatever the CI machine looks like (a
# fresh machine has just booted: recent_reboot_hours; its disk may be full-ish), except
# memory_percent, which each host's own config file sets (the module merges key by key).
LOOSE = {"cpu_percent": {"warn": 100, "crit": 100}, "load_per_core": {"warn": 1000, "crit": 1000},
         "swap_percent": {"warn": 100, "crit": 100}, "disk_percent": {"warn": 100, "crit": 100},
         "inode_percent": {"warn": 100, "crit": 100}, "days_until_full": {"warn": 0, "crit": 0},
         "temperature_celsius": {"warn": 1000, "crit": 1000}, "failed_units": "ignore",
         "recent_reboot_hours": 0}
# No cpu section: a container sees the whole machine's CPU, which a busy CI machine can
# keep at 100% (the highest threshold there is).
SECTIONS = ["host", "memory", "swap", "filesystems", "systemd"]


def unavailable(reason):
    if os.environ.get("CI") == "true":
        pytest.fail("container tests cannot run in CI: %s" % reason)
    pytest.skip("container tests skipped (not in CI): %s" % reason)


def docker(*args, check=True, timeout=300):
    done = subprocess.run(["docker"] + list(args), capture_output=True, text=True,
                          timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError("docker %s: exit %d: %s" % (" ".join(args), done.returncode,
                                                         (done.stdout + done.stderr).strip()))
    return done


def sh(name, script, check=True):
    return docker("exec", PREFIX + name, "sh", "-ec", script, check=check)


def psutil_deb(tmp):
    """Debian's python3-psutil for bookworm, downloaded with apt on this (bookworm) machine."""
    cmd = ["apt-get", "download", "python3-psutil"]
    if subprocess.run(cmd, cwd=tmp, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(cmd, cwd=tmp, check=True, capture_output=True)
    return glob.glob(os.path.join(tmp, "python3-psutil_*.deb"))[0]


def wheelhouse(tmp):
    """The role's wheelhouse (make wheelhouse) plus a fresh wheel of agent/."""
    house = ROOT / "dist" / "wheelhouse"
    if not glob.glob(str(house / "psutil-*.whl")) or \
            not glob.glob(str(ROOT / "dist" / "test-wheelhouse" / "aiosmtpd-*.whl")):
        subprocess.run(["bash", "tests/build-wheelhouse.sh"], cwd=ROOT, check=True,
                       capture_output=True, timeout=900)
    out = Path(tmp) / "wheelhouse"
    shutil.copytree(house, out)
    for old in out.glob("sysreport-*.whl"):
        old.unlink()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(out), str(ROOT / "agent")],
                   check=True, capture_output=True, timeout=300)
    return out


def host_config(memory):
    return ("[thresholds]\nmemory_percent = {warn = %d, crit = %d}\n" % memory)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    if shutil.which("docker") is None:
        unavailable("no docker command; run tests/setup/install-host-packages.sh")
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        unavailable("dockerd does not answer; run tests/setup/start-dockerd.sh")
    releases = sorted(set(IMAGES.values()))
    missing = [r for r in releases
               if docker("image", "inspect", "sysreport-debian:" + r, check=False).returncode]
    if missing:  # a fresh machine: build them (cached, idempotent), as Molecule would
        built = subprocess.run(["bash", "molecule/images/build.sh"] + missing, cwd=ROOT,
                               capture_output=True, text=True, timeout=1800)
        if built.returncode != 0:
            unavailable("images %s missing and molecule/images/build.sh failed: %s"
                        % (", ".join(missing), built.stderr[-1000:]))
    tmp = str(tmp_path_factory.mktemp("fleet"))
    for name, release in IMAGES.items():
        docker("rm", "--force", PREFIX + name, check=False)
        docker("run", "--name", PREFIX + name, "--hostname", PREFIX + name, *RUN_OPTIONS,
               "sysreport-debian:" + release, "/sbin/init")
    try:
        # agent: a venv from the wheelhouse, as the role builds it (no index: no network)
        house = wheelhouse(tmp)
        docker("cp", str(house), PREFIX + "agent:/root/wheelhouse")
        sh("agent", "python3 -m venv /opt/sysreport/venv && /opt/sysreport/venv/bin/pip install "
                    "--quiet --no-index --find-links /root/wheelhouse sysreport")
        # deb: Debian's package, nothing else
        deb = psutil_deb(tmp)
        docker("cp", deb, PREFIX + "deb:/root/python3-psutil.deb")
        sh("deb", "dpkg -i /root/python3-psutil.deb >/dev/null")
        # py39, py313: psutil's abi3 wheel unpacked into the system Python's path
        wheel = sorted(house.glob("psutil-*-abi3-*.whl"))[-1]
        for name in ("py39", "py313"):
            docker("cp", str(wheel), PREFIX + name + ":/root/" + wheel.name)
            sh(name, 'site=$(python3 -c "import site; print(site.getsitepackages()[0])")'
                     ' && mkdir -p "$site" && python3 -m zipfile -e /root/%s "$site"' % wheel.name)
        # each host's own config sets memory_percent: py313 CRIT, deb WARN; py39's cannot be
        # read (Python 3.9 has no tomllib, and no tomli is installed): OK, with a warning
        for name, memory in (("py313", (0, 0)), ("deb", (0, 100)), ("py39", (0, 0))):
            sh(name, "mkdir -p /etc/sysreport && cat > /etc/sysreport/sysreport.toml <<'EOF'\n%sEOF"
               % host_config(memory))
        docker("stop", "--time", "5", PREFIX + "down")
        inventory = Path(tmp) / "hosts.yml"
        inventory.write_text(json.dumps({"all": {
            "vars": {"ansible_connection": "community.docker.docker",
                     "ansible_python_interpreter": "/usr/bin/python3"},
            "hosts": {PREFIX + name: {} for name in IMAGES}}}))
        yield {"inventory": inventory, "tmp": Path(tmp)}
    finally:
        for name in IMAGES:
            docker("rm", "--force", PREFIX + name, check=False)


def ansible_env():
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_PIPELINING="true",
                ANSIBLE_LOAD_CALLBACK_PLUGINS="true",
                ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")


def adhoc(fleet, pattern, *args):
    done = subprocess.run([str(VENV_BIN / "ansible"), "-i", str(fleet["inventory"]), pattern,
                           "-m", "sysreport"] + list(args),
                          capture_output=True, text=True, cwd=ROOT, env=ansible_env(),
                          timeout=600)
    return done, json_result(done.stdout)["plays"][0]["tasks"][0]["hosts"]


def test_the_module_on_every_kind_of_host(fleet):
    done, hosts = adhoc(fleet, "all", "-a", json.dumps({"thresholds": LOOSE, "sections": SECTIONS}))
    assert done.returncode != 0  # bare fails, down is unreachable
    for name, os_name in (("agent", "bookworm"), ("deb", "bookworm"), ("py39", "bullseye"),
                          ("py313", "trixie")):
        result = hosts[PREFIX + name]
        assert not result.get("failed"), (name, result.get("msg"))
        assert result["changed"] is False
        report = result["report"]
        assert os_name in report["host"]["os"], report["host"]
        assert report["host"]["hostname"] == PREFIX + name
        assert report["memory"]["total"] > 0
        # collected (a container's overlay root is not a device file system: may be [])
        assert report["filesystems"] is not None, report["unavailable"]
        assert report["systemd"] is not None, report["unavailable"]  # systemd is PID 1
        assert result["status"] == report["status"]
    assert hosts[PREFIX + "py313"]["status"] == "CRIT"   # its own config
    assert hosts[PREFIX + "deb"]["status"] == "WARN"
    assert hosts[PREFIX + "deb"]["config_path"] == "/etc/sysreport/sysreport.toml"
    py39 = hosts[PREFIX + "py39"]
    assert py39["status"] == "OK", py39["problems"]
    assert py39["config_path"] is None
    assert len(py39["warnings"]) == 1
    assert py39["warnings"][0].startswith("Ignoring the host configuration "
                                          "/etc/sysreport/sysreport.toml")
    assert "install tomli" in py39["warnings"][0]
    assert hosts[PREFIX + "agent"]["status"] == "OK", hosts[PREFIX + "agent"]["problems"]
    bare = hosts[PREFIX + "bare"]
    assert bare["failed"] is True
    assert bare["msg"].startswith("Failed to import the required Python library (psutil)")
    assert "sysreport role" in bare["msg"] and "python3-psutil" in bare["msg"]
    down = hosts[PREFIX + "down"]
    # community.docker.docker with pipelining reports a stopped container as a module
    # failure without output, not as unreachable (fleet_report.yml checks such hosts)
    assert down.get("unreachable") is True or \
        "is not running" in down.get("module_stderr", ""), down


def test_send_in_check_mode_says_what_it_would_run(fleet):
    done, hosts = adhoc(fleet, PREFIX + "agent:" + PREFIX + "deb", "-a",
                        "send=true sections=memory", "--check")
    agent = hosts[PREFIX + "agent"]
    assert agent["changed"] is True and agent["sent"] is False, agent
    assert agent["msg"] == ("check mode: would send the report now with: "
                            "/opt/sysreport/venv/bin/sysreport --config "
                            "/etc/sysreport/sysreport.toml send")
    deb = hosts[PREFIX + "deb"]
    assert deb["failed"] is True
    assert "needs the installed agent" in deb["msg"]


def test_the_fleet_digest_arrives_once_worst_first_with_the_stopped_host(
        fleet, smtp_server, write_config, outbox_files):
    tmp = fleet["tmp"]
    server = smtp_server()
    conf = write_config(server)    # the controller's agent config (tests/conftest.py)
    env = dict(ansible_env(), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    env.pop("SYSREPORT_SMTP_PASSWORD", None)
    done = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(fleet["inventory"]),
         "playbooks/fleet_report.yml",
         "-e", json.dumps({"sysreport_digest_config": str(conf),
                           "sysreport_digest_agent": str(VENV_BIN / "sysreport"),
                           "sysreport_digest_input": str(tmp / "fleet.json"),
                           "sysreport_fleet_thresholds": LOOSE,
                           "sysreport_fleet_sections": SECTIONS})],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert len(server.messages) == 1
    msg = server.messages[0].message
    assert PASSWORD not in done.stdout + done.stderr
    assert msg["Subject"].strip() == ("[test] fleet digest: 1 UNREACHABLE, 1 FAILED, 1 CRIT, "
                                      "1 WARN, 2 OK (6 hosts)")
    text = msg.get_body(("plain",)).get_content()
    assert "Did not answer: %sdown" % PREFIX in text, text
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("HOST "))
    table = lines[start:lines.index("", start)]
    assert [line.split()[0] for line in table[1:]] == [
        PREFIX + n for n in ("down", "bare", "py313", "deb", "agent", "py39")]
    assert [line.split()[1] for line in table[1:]] == \
        ["UNREACHABLE", "FAILED", "CRIT", "WARN", "OK", "OK"]
    html = msg.get_body(("html",)).get_content()
    assert "<strong>Did not answer:</strong> %sdown" % PREFIX in html
    data = json.loads((tmp / "fleet.json").read_text())
    assert data["schema_version"] == 1
    assert data["hosts"][PREFIX + "down"]["unreachable"] is True
    assert data["hosts"][PREFIX + "bare"]["failed"] is True
    assert data["hosts"][PREFIX + "agent"]["schema_version"] == 1
    assert outbox_files() == []


UNIT = """[Unit]
Description=sysreport send (the role's unit, reduced to what this test needs)
[Service]
Type=oneshot
ExecStart=/opt/sysreport/venv/bin/sysreport --config /etc/sysreport/sysreport.toml send
LoadCredential=smtp-password:/etc/sysreport/credentials/smtp-password
StateDirectory=sysreport
"""

AGENT_CONFIG = """[mail]
to = ["ops@example.org"]

[smtp]
host = "127.0.0.1"
port = 8465
security = "tls"
username = "sysreport@example.org"
password_file = ""
ca_file = "/root/certs/ca.pem"
timeout = 10
"""


@pytest.fixture(scope="module")
def agent_unit(fleet):
    """The agent host gets a sysreport.service whose SMTP password is only a systemd
    credential (as the role sets it up) and a test SMTP server of its own on its loopback
    (the container has no network): tests/smtp_server.py in a venv from the test wheelhouse."""
    docker("cp", str(ROOT / "dist" / "test-wheelhouse"), PREFIX + "agent:/root/test-wheelhouse")
    docker("cp", str(ROOT / "tests" / "smtp_server.py"), PREFIX + "agent:/root/smtp_server.py")
    sh("agent", "python3 -m venv /opt/testsmtp && /opt/testsmtp/bin/pip install --quiet "
                "--no-index --find-links /root/test-wheelhouse aiosmtpd cryptography")
    sh("agent", "mkdir -p /etc/sysreport/credentials /root/mbox && umask 077 && "
                "printf '%%s\\n' '%s' > /etc/sysreport/credentials/smtp-password && "
                "cp /etc/sysreport/credentials/smtp-password /root/smtp-password" % PASSWORD)
    sh("agent", "cat > /etc/sysreport/sysreport.toml <<'EOF'\n%sEOF" % AGENT_CONFIG)
    sh("agent", "cat > /etc/systemd/system/sysreport.service <<'EOF'\n%sEOF\n"
                "systemctl daemon-reload" % UNIT)
    sh("agent", "systemd-run --unit test-smtp /opt/testsmtp/bin/python /root/smtp_server.py "
                "--port 8465 --tls tls --password-file /root/smtp-password --mbox /root/mbox "
                "--cert-dir /root/certs && "
                "for i in $(seq 60); do [ -f /root/certs/ca.pem ] && exit 0; sleep 0.5; done; "
                "journalctl -u test-smtp --no-pager; exit 1")
    yield
    sh("agent", "systemctl stop test-smtp; rm -f /etc/systemd/system/sysreport.service "
                "/etc/sysreport/sysreport.toml; systemctl daemon-reload", check=False)


def test_report_now_sends_through_the_role_unit_once(fleet, agent_unit):
    env = dict(ansible_env(), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    done = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(fleet["inventory"]),
                           "--limit", PREFIX + "agent", "playbooks/report_now.yml", "-v"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "changed: [%sagent]" % PREFIX in done.stdout
    assert "systemctl" in done.stdout and "sysreport.service" in done.stdout
    mails = sh("agent", "ls /root/mbox | grep -c '\\.eml$' || true").stdout.strip()
    assert mails == "1"
    subject = sh("agent", "python3 -c 'import email, sys; "
                          "print(email.message_from_file(open(sys.argv[1]))[\"Subject\"])' "
                          "/root/mbox/0001.eml").stdout
    assert PREFIX + "agent" in subject
    assert PASSWORD not in done.stdout + done.stderr
