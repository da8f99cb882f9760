"""Shared fixtures: the real CLI as a subprocess, a real SMTP server on loopback, configs.

    def test_x(smtp_server, write_config, run):
        server = smtp_server(tls="starttls")
        cfg = write_config(server)                    # a TOML file pointing at it
        result = run("send", config=cfg)              # sysreport send --config cfg
        assert result.returncode == 0

Every run() asserts that the SMTP password appears nowhere in stdout or stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))

from smtp_server import SilentServer, TestSMTPServer, free_port  # noqa: E402

# A password that would be noticed anywhere: never in any output of any run.
PASSWORD = "app-pass-Zq7!xv 9kw"
USER = "reports@example.com"


def sysreport_command() -> List[str]:
    """The installed console script next to this interpreter (the venv's), else -m."""
    script = Path(sys.executable).with_name("sysreport")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "sysreport"]


def _clean_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SYSREPORT_", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY",
                                "JOURNAL_STREAM"))}
    env.update(extra or {})
    return env


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')
    if isinstance(value, list):
        return "[%s]" % ", ".join(toml_value(v) for v in value)
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s = %s" % (k, toml_value(v)) for k, v in value.items())
    raise TypeError(value)


def to_toml(tables: Dict[str, Dict[str, Any]]) -> str:
    lines: List[str] = []
    for table, keys in tables.items():
        lines.append("[%s]" % table)
        for key, value in keys.items():
            lines.append("%s = %s" % (key, toml_value(value)))
        lines.append("")
    return "\n".join(lines)


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """run("send", "--dry-run", config=path, env={...}) -> CompletedProcess (text)."""

    def _run(*args: str, config: Optional[Path] = None, env: Optional[Dict[str, str]] = None,
             timeout: float = 60, check_secret: bool = True) -> subprocess.CompletedProcess:
        command = sysreport_command()
        if config is not None:
            command += ["--config", str(config)]
        result = subprocess.run(command + list(args), capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, env=_clean_env(env),
                                timeout=timeout, cwd=str(tmp_path))
        if check_secret:
            assert PASSWORD not in result.stdout and PASSWORD not in result.stderr, \
                "the SMTP password leaked into the output"
        assert "Traceback" not in result.stderr, result.stderr
        return result

    return _run


@pytest.fixture
def smtp_server(tmp_path: Path):
    """smtp_server(tls="tls"|"starttls", **faults) -> a started TestSMTPServer."""
    started: List[Any] = []

    def _start(tls: str = "tls", port: int = 0, **kwargs: Any) -> TestSMTPServer:
        server = TestSMTPServer(PASSWORD, tls=tls, cert_dir=str(tmp_path / "certs"),
                                port=port, user=USER, **kwargs)
        server.start()
        started.append(server)
        return server

    yield _start
    for server in started:
        server.stop()


@pytest.fixture
def silent_server():
    with SilentServer() as server:
        yield server


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "smtp-password"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def write_config(tmp_path: Path, password_file: Path, state_dir: Path):
    """write_config(server_or_None, **{"table.key": value}) -> path of a TOML file.

    Without a server the SMTP port is one where nothing listens (connection refused).
    """

    def _write(server: Any = None, name: str = "sysreport.toml", **overrides: Any) -> Path:
        ca_dir = tmp_path / "certs"
        tables: Dict[str, Dict[str, Any]] = {
            "report": {"cpu_sample_seconds": 0.05, "top_processes": 3},
            "mail": {"to": ["ops@example.com", "oncall@example.com"],
                     "from": "Sysreport <%s>" % USER, "subject_prefix": "[test]"},
            "smtp": {"host": "127.0.0.1",
                     "port": server.port if server is not None else free_port(),
                     "security": getattr(server, "tls", "tls"),
                     "username": USER, "password_file": str(password_file),
                     "timeout": 5},
            "state": {"directory": str(state_dir)},
        }
        if server is not None and getattr(server, "ca_file", None):
            tables["smtp"]["ca_file"] = server.ca_file
        elif (ca_dir / "ca.pem").exists():
            tables["smtp"]["ca_file"] = str(ca_dir / "ca.pem")
        for dotted, value in overrides.items():
            table, key = dotted.split("__", 1) if "__" in dotted else dotted.split(".", 1)
            if value is None:
                tables.get(table, {}).pop(key, None)
            else:
                tables.setdefault(table, {})[key] = value
        path = tmp_path / name
        path.write_text(to_toml(tables))
        return path

    return _write


@pytest.fixture
def outbox_files(state_dir: Path) -> Callable[[], List[Path]]:
    def _list() -> List[Path]:
        box = state_dir / "outbox"
        return sorted(box.glob("*.eml")) if box.exists() else []
    return _list


def pytest_configure(config: Any) -> None:
    # tests/smtp_server.py explains: implicit TLS is TLS, aiosmtpd just does not know it
    config.addinivalue_line("filterwarnings",
                            "ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.fixture
def secret_argv_process():
    """(process, marker): a 400 MiB process, the largest here, so a report's top rows by
    memory list it, with a password-like marker on its command line."""
    marker = "--password=hunter2-%d" % os.getpid()
    child = subprocess.Popen([sys.executable, "-c",
                              "import time; b = b'x' * (400 << 20); time.sleep(600)", marker])
    time.sleep(1)                  # until its memory is resident
    yield child, marker
    child.kill()
    child.wait()
