"""The HTTP API, end to end: a real `sysreport serve` in a subprocess, real HTTP over
loopback, real processes to list. (FastAPI's TestClient is used only where a test
needs no server, to keep the suite fast.)"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import httpx
import psutil
import pytest

AGENT = Path(__file__).resolve().parent.parent / "agent"
ME = pwd.getpwuid(os.getuid()).pw_name
TOKEN = "t0ken-" + "x" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(directory: Path, api: str = "") -> Path:
    path = directory / "sysreport.toml"
    state = directory / "state"
    path.write_text('[state]\ndirectory = "%s"\n\n[api]\n%s\n' % (state, api))
    return path


class Server:
    def __init__(self, proc: subprocess.Popen, base: str, stderr: Path):
        self.proc, self.base, self.stderr_path = proc, base, stderr

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail("serve did not stop on SIGTERM\n" + self.stderr)
        return self.proc.returncode


def serve_command(config: Path, *args: str) -> List[str]:
    return [sys.executable, "-m", "sysreport", "--config", str(config), "serve", *args]


def start(tmp: Path, api: str = "", args: tuple = (), env: Optional[Dict[str, str]] = None,
          connect: str = "127.0.0.1") -> Server:
    config = write_config(tmp, api)
    port = free_port()
    stderr = tmp / "serve.stderr"
    full_env = dict(os.environ)
    full_env.pop("CREDENTIALS_DIRECTORY", None)
    full_env.update(env or {})
    proc = subprocess.Popen(serve_command(config, "--port", str(port), *args),
                            stdout=subprocess.DEVNULL, stderr=stderr.open("w"),
                            env=full_env)
    base = "http://%s:%d" % (connect, port)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            pytest.fail("serve exited with %s:\n%s" % (proc.returncode, stderr.read_text()))
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return Server(proc, base, stderr)
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("serve did not answer /healthz:\n" + stderr.read_text())
        time.sleep(0.1)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = start(tmp_path)
    yield srv
    assert srv.stop() == 0, srv.stderr


@pytest.fixture
def sleepers() -> Iterator[List[subprocess.Popen]]:
    procs = [subprocess.Popen(["sleep", "600"]) for _ in range(3)]
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def get(srv: Server, path: str, **kw) -> httpx.Response:
    return httpx.get(srv.base + path, timeout=30, **kw)


# --------------------------------------------------------------------------- /processes

def test_processes_default_listing_is_sorted_by_memory_without_cmdlines(sleepers, server):
    response = get(server, "/processes")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    rows = body["processes"]
    assert body["sort"] == "memory" and body["limit"] == 50
    assert len(rows) == body["returned"] == min(50, body["total"])
    assert body["total"] >= len(psutil.pids()) // 2     # it saw the host, not a few
    rss = [r["rss"] for r in rows]
    assert rss == sorted(rss, reverse=True)
    for row in rows:
        assert set(row) == {"pid", "user", "name", "rss", "memory_percent", "cpu_percent"}
        assert isinstance(row["rss"], int) and row["rss"] >= 0
        assert 0 <= row["memory_percent"] <= 100
    assert body["cmdline_included"] is False
    # the server itself is on the list with its real figures
    everything = get(server, "/processes?limit=10000").json()["processes"]
    mine = {r["pid"]: r for r in everything}
    assert mine[server.proc.pid]["user"] == ME
    assert mine[server.proc.pid]["rss"] > 10 * 2**20
    for child in sleepers:
        assert mine[child.pid]["name"] == "sleep"


@pytest.mark.parametrize("sort", ["memory", "rss", "cpu", "pid", "name"])
def test_every_sort_orders_the_rows(server, sort):
    rows = get(server, "/processes?limit=10000&sort=" + sort).json()["processes"]
    assert len(rows) > 5
    if sort in ("memory", "rss"):
        values = [-r["rss"] for r in rows]
    elif sort == "cpu":
        values = [-(r["cpu_percent"] or 0) for r in rows]
    elif sort == "pid":
        values = [r["pid"] for r in rows]
    else:
        values = [r["name"].lower() for r in rows]
    assert values == sorted(values)


@pytest.mark.parametrize("query, what", [
    ("sort=size", "sort"), ("sort=", "sort"), ("limit=0", "limit"),
    ("limit=10001", "limit"), ("limit=many", "limit")])
def test_bad_parameters_are_422_with_a_clear_message(server, query, what):
    response = get(server, "/processes?" + query)
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["query", what]
    if what == "sort":
        assert "'memory', 'rss', 'cpu', 'pid' or 'name'" in detail["msg"]


def test_limit_and_user_filter(sleepers, server):
    assert get(server, "/processes?limit=2").json()["returned"] == 2
    body = get(server, "/processes?limit=10000&user=" + ME).json()
    assert body["matched"] == body["returned"] > 0
    assert {r["user"] for r in body["processes"]} == {ME}
    assert {c.pid for c in sleepers} <= {r["pid"] for r in body["processes"]}
    nobody = get(server, "/processes?user=no-such-user-here").json()
    assert nobody["matched"] == 0 and nobody["processes"] == []


def test_cpu_figures_are_measured_between_requests(server):
    # A process that burns one core: between two requests it must show as busy.
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        get(server, "/processes?sort=cpu")              # a reading to measure from
        time.sleep(1.5)
        body = get(server, "/processes?sort=cpu&limit=10000").json()
    finally:
        burner.kill()
        burner.wait()
    assert body["cpu_window_seconds"] >= 1.0            # shared scans are >= 1 s apart
    assert "CPU time" in body["cpu_percent_basis"]
    row = next(r for r in body["processes"] if r["pid"] == burner.pid)
    assert row["cpu_percent"] > 10, row                 # a busy loop, not 0.0 (even on a
    # loaded machine it gets a fair share of a core)
    idle = [r for r in body["processes"] if r["name"] == "sleep"]
    assert all(r["cpu_percent"] < 5 for r in idle)


def test_the_first_request_after_start_up_gets_a_full_cpu_window(tmp_path):
    """The start-up scan has nothing to compare with; the first answer waits until it is
    a second old instead of measuring CPU over a few milliseconds."""
    srv = start(tmp_path)       # returns as soon as /healthz answers
    try:
        body = get(srv, "/processes").json()
        assert body["cpu_window_seconds"] >= 1.0, body["cpu_window_seconds"]
    finally:
        assert srv.stop() == 0, srv.stderr


def test_processes_exiting_while_listed_are_skipped_not_500(server):
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            batch = [subprocess.Popen(["true"]) for _ in range(20)]
            for proc in batch:
                proc.wait()

    spawner = threading.Thread(target=churn)
    spawner.start()
    statuses = []
    try:
        deadline = time.monotonic() + 4          # several shared scans (1 s apart)
        while time.monotonic() < deadline:
            response = get(server, "/processes?limit=10000&sort=pid")
            statuses.append(response.status_code)
            assert response.status_code == 200, response.text
            rows = response.json()["processes"]
            assert all(isinstance(r["name"], str) for r in rows)
    finally:
        stop.set()
        spawner.join()
    assert len(statuses) >= 4
    assert "Traceback" not in server.stderr


def test_a_process_that_exits_between_listing_and_reading_is_skipped():
    """The race made certain: a real process is killed and reaped after the scan has
    listed its pid and before it reads the process, as if it had exited just then."""
    pytest.importorskip("fastapi")
    from sysreport.api.processes import ProcessTable

    victim = subprocess.Popen(["sleep", "600"])
    killed = []

    class ExitsWhileRead(ProcessTable):
        def _read(self, proc):
            if proc.pid == victim.pid and not killed:
                victim.kill()
                victim.wait()
                killed.append(proc.pid)
            return super()._read(proc)

    try:
        body = ExitsWhileRead(show_cmdline=True).listing(sort="pid", limit=100000)
    finally:
        victim.kill()
        victim.wait()
    assert killed == [victim.pid]
    assert body["skipped"] >= 1
    assert victim.pid not in [r["pid"] for r in body["processes"]]
    assert body["returned"] > 0


def test_concurrent_clients_share_scans_and_all_succeed(server):
    results: List[tuple] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=server.base, timeout=60) as http:
            for _ in range(10):
                response = http.get("/processes", params={"sort": "cpu", "limit": 5})
                body = response.json() if response.status_code == 200 else {}
                with lock:
                    results.append((response.status_code, body.get("collected_at"),
                                    body.get("cpu_window_seconds")))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _, _ in results] == [200] * 80
    assert all(window is not None for _, _, window in results)   # never a first reading


def test_process_table_survives_churn_scan_after_scan():
    # The same race without the one-second sharing: every listing is a new scan.
    from sysreport.api.processes import ProcessTable

    table = ProcessTable(max_age=0)
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            for proc in [subprocess.Popen(["true"]) for _ in range(20)]:
                proc.wait()

    spawner = threading.Thread(target=churn)
    spawner.start()
    try:
        for _ in range(40):
            body = table.listing(sort="pid", limit=10000)
            pids = [r["pid"] for r in body["processes"]]
            assert pids == sorted(pids) and len(pids) == body["total"]
    finally:
        stop.set()
        spawner.join()


def test_a_reused_pid_is_a_new_process():
    # Identity is pid + start time: a cached entry whose start time differs is dropped.
    from sysreport.api.processes import ProcessTable

    table = ProcessTable(max_age=0)
    child = subprocess.Popen(["sleep", "600"])
    try:
        table.scan()
        known = table._seen[child.pid]
        started = known.started
        assert started == pytest.approx(
            psutil.Process(child.pid).create_time() - psutil.boot_time(), abs=0.05)
        table.scan()
        assert table._seen[child.pid].proc is known.proc      # same process: kept
        known = table._seen[child.pid]
        known.started -= 1000                                 # as if an older process had it
        known.cpu = 10.0**6                                   # ...with lots of CPU time
        body = table.listing(sort="pid", limit=10000)
        row = next(r for r in body["processes"] if r["pid"] == child.pid)
        assert row["cpu_percent"] is not None and row["cpu_percent"] < 5
        assert table._seen[child.pid].proc is not known.proc  # a new object
        assert table._seen[child.pid].started == started      # read from /proc again
    finally:
        child.kill()
        child.wait()


def spawn_with_pid(pid: int, argv: List[str]) -> Optional[subprocess.Popen]:
    """A new process that gets `pid` (a real pid reuse), via ns_last_pid (root only);
    None when other processes keep taking it first."""
    for _ in range(50):
        with open("/proc/sys/kernel/ns_last_pid", "w") as handle:
            handle.write(str(pid - 1))
        proc = subprocess.Popen(argv)
        if proc.pid == pid:
            return proc
        proc.kill()
        proc.wait()
    return None


@pytest.mark.skipif(not os.access("/proc/sys/kernel/ns_last_pid", os.W_OK),
                    reason="reusing a pid on purpose needs root (ns_last_pid)")
def test_a_really_reused_pid_is_read_as_a_new_process():
    from sysreport.api.processes import ProcessTable

    table = ProcessTable(max_age=0)
    first = subprocess.Popen(["sleep", "600"])
    pid = first.pid
    table.scan()
    old = table._seen[pid]
    time.sleep(0.1)                      # a start time at least one clock tick later
    first.kill()
    first.wait()
    second = spawn_with_pid(pid, ["sleep", "601"])
    assert second is not None, "could not get pid %d again" % pid
    try:
        table.scan()
        new = table._seen[pid]
        assert new.proc is not old.proc
        assert new.started == pytest.approx(
            psutil.Process(pid).create_time() - psutil.boot_time(), abs=0.05)
        assert new.started > old.started
    finally:
        second.kill()
        second.wait()


def test_cmdlines_only_when_configured(tmp_path, secret_argv_process):
    child, marker = secret_argv_process
    (tmp_path / "a").mkdir()
    hidden = start(tmp_path / "a")
    try:
        response = get(hidden, "/processes?limit=10000")
        assert marker not in response.text
        assert all("cmdline" not in r for r in response.json()["processes"])
        report = get(hidden, "/report")
        assert child.pid in [r["pid"] for r in report.json()["processes"]["by_memory"]]
        assert marker not in report.text and '"cmdline"' not in report.text
    finally:
        assert hidden.stop() == 0
    (tmp_path / "b").mkdir()
    shown = start(tmp_path / "b", api="show_cmdline = true")
    try:
        body = get(shown, "/processes?limit=10000").json()
        assert body["cmdline_included"] is True
        row = next(r for r in body["processes"] if r["pid"] == child.pid)
        assert row["cmdline"].endswith(marker)
        report = get(shown, "/report").json()
        row = next(r for r in report["processes"]["by_memory"] if r["pid"] == child.pid)
        assert row["cmdline"].startswith(sys.executable + " -c ")    # shortened there
    finally:
        assert shown.stop() == 0


# --------------------------------------------------------------------------- /report etc.

def test_report_is_the_collect_json_and_writes_no_history(server, tmp_path):
    response = get(server, "/report")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    collected = subprocess.run(
        [sys.executable, "-m", "sysreport", "--config", str(tmp_path / "sysreport.toml"),
         "collect", "--format", "json"], capture_output=True, text=True, check=True)
    expected = json.loads(collected.stdout)
    assert document["schema_version"] == expected["schema_version"] == 1
    assert set(document) == set(expected)
    assert document["host"]["hostname"] == expected["host"]["hostname"]
    assert document["status"] in ("OK", "WARN", "CRIT")
    state = tmp_path / "state"
    assert not (state / "history").exists() or not any((state / "history").iterdir())


def test_healthz_openapi_and_docs(server):
    assert get(server, "/healthz").json()["status"] == "ok"
    spec = get(server, "/openapi.json").json()
    assert {"/processes", "/report", "/healthz"} <= set(spec["paths"])
    names = {p["name"] for p in spec["paths"]["/processes"]["get"]["parameters"]}
    assert names == {"sort", "limit", "user"}
    docs = get(server, "/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_sigterm_stops_it_cleanly(tmp_path):
    srv = start(tmp_path)
    assert srv.stop() == 0
    assert "Traceback" not in srv.stderr


# --------------------------------------------------------------------------- the token

def test_token_refused_and_accepted(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    srv = start(tmp_path, api='token_file = "%s"' % token_file)
    try:
        for path in ("/processes", "/report", "/openapi.json", "/docs"):
            missing = get(srv, path)
            assert missing.status_code == 401, path
            assert missing.headers["www-authenticate"].startswith('Bearer realm="sysreport"')
            wrong = get(srv, path, headers={"Authorization": "Bearer " + TOKEN[:-1] + "y"})
            assert wrong.status_code == 401
            assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
            basic = get(srv, path, headers={"Authorization": "Basic " + TOKEN})
            assert basic.status_code == 401
        good = {"Authorization": "Bearer " + TOKEN}
        assert get(srv, "/processes", headers=good).status_code == 200
        assert get(srv, "/openapi.json", headers=good).json()["components"][
            "securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert get(srv, "/processes", headers={"authorization": "bearer " + TOKEN}
                   ).status_code == 200
        assert get(srv, "/healthz").status_code == 200          # no token needed
    finally:
        assert srv.stop() == 0
    assert TOKEN not in srv.stderr


def test_credentials_directory_wins_over_token_file(tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "api-token").write_text("from-credentials\n")
    token_file = tmp_path / "token"
    token_file.write_text("from-token-file\n")
    srv = start(tmp_path, api='token_file = "%s"' % token_file,
                env={"CREDENTIALS_DIRECTORY": str(creds)})
    try:
        ok = get(srv, "/processes", headers={"Authorization": "Bearer from-credentials"})
        assert ok.status_code == 200
        no = get(srv, "/processes", headers={"Authorization": "Bearer from-token-file"})
        assert no.status_code == 401
    finally:
        assert srv.stop() == 0


def run_serve(tmp_path: Path, api: str = "", args: tuple = (),
              env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    config = write_config(tmp_path, api)
    full_env = dict(os.environ)
    full_env.pop("CREDENTIALS_DIRECTORY", None)
    full_env.update(env or {})
    return subprocess.run(serve_command(config, "--port", str(free_port()), *args),
                          capture_output=True, text=True, timeout=60, env=full_env)


def test_other_addresses_need_a_token(tmp_path):
    result = run_serve(tmp_path, args=("--listen", "0.0.0.0"))
    assert result.returncode == 78
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR ")
    assert "token" in lines[0] and "api-token" in lines[0]


def test_other_addresses_work_with_a_token(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    srv = start(tmp_path, api='listen = "0.0.0.0"\ntoken_file = "%s"' % token_file)
    try:
        assert get(srv, "/processes").status_code == 401
        assert get(srv, "/processes", headers={"Authorization": "Bearer " + TOKEN}
                   ).status_code == 200
    finally:
        assert srv.stop() == 0
    assert "0.0.0.0" in srv.stderr and TOKEN not in srv.stderr


@pytest.mark.parametrize("content, problem", [("", "is empty"), ("two words\n", "one token")])
def test_an_unusable_token_file_is_a_config_error(tmp_path, content, problem):
    token_file = tmp_path / "token"
    token_file.write_text(content)
    result = run_serve(tmp_path, api='token_file = "%s"' % token_file)
    assert result.returncode == 78
    assert problem in result.stderr and str(token_file) in result.stderr
    assert "words" not in result.stderr                 # never the content
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_busy_port_is_one_line_not_a_traceback(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_serve(tmp_path, args=("--port", str(port)))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "cannot listen on 127.0.0.1 port %d" % port in result.stderr


# --------------------------------------------------------------------------- the extra

def test_without_the_extra_serve_says_what_to_install(tmp_path):
    # A real interpreter that has psutil but not FastAPI/uvicorn: no site-packages (-S),
    # only the agent and a copy of psutil on the path.
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copytree(Path(psutil.__file__).parent, lib / "psutil")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = "%s:%s" % (AGENT, lib)
    probe = subprocess.run([sys.executable, "-S", "-c", "import fastapi"],
                           env=env, capture_output=True)
    assert probe.returncode != 0                         # really not importable
    config = write_config(tmp_path)
    result = subprocess.run([sys.executable, "-S", "-m", "sysreport", "--config",
                             str(config), "serve"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 78, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "pip install 'sysreport[api]'" in lines[0]


def test_the_collect_path_imports_no_web_framework(tmp_path):
    config = write_config(tmp_path)
    code = ("import sys; from sysreport import cli\n"
            "sys.argv = ['sysreport', '--config', %r, 'collect', '--format', 'json']\n"
            "try:\n    rc = cli.main()\nexcept SystemExit as exc:\n    rc = exc.code\n"
            "web = sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'pydantic') "
            "if m in sys.modules)\n"
            "print('WEB', web, rc, file=sys.stderr)\n") % str(config)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert "WEB [] 0" in result.stderr, result.stderr[-2000:]
