"""The API image (agent/Dockerfile): real `docker build`s and a real container.

What it proves:
  - layering: after a first build without the cache, a change to the agent's source only, the rebuild takes the
    dependency steps from the cache (the classic builder prints "Using cache" under
    them) and rebuilds the project's steps; both build times and the image size are
    printed, not asserted;
  - the container runs `sysreport serve --listen 0.0.0.0` as a non-root user, refuses
    to start without a token, and with a mounted token file answers /processes with
    the host's processes (--pid=host). The container has no network (--network none):
    the requests are made inside it with `docker exec ... python3 -c urllib...`.

The build itself needs PyPI. The build runs with --network host (the default bridge
works too, but its DNS was unreliable here) and gets this host's locally added CAs
(/usr/local/share/ca-certificates) as EXTRA_CA_PEM, for a TLS-intercepting egress.
Without docker the tests fail under CI=true and skip otherwise.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator, List

import pytest

ROOT = Path(__file__).resolve().parent.parent
AGENT = ROOT / "agent"
BASE = os.environ.get("SYSREPORT_TEST_BASE_IMAGE", "sysreport-debian:bookworm")
TAG = "sysreport-api:test"
TOKEN = "image-test-" + uuid.uuid4().hex


def _docker_ready() -> str:
    if shutil.which("docker") is None:
        return "docker is not installed"
    result = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if result.returncode != 0:
        return "the Docker engine does not answer (tests/setup/start-dockerd.sh)"
    return ""


def _require_docker() -> None:
    problem = _docker_ready()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs docker for the image tests: " + problem)
        pytest.skip(problem)


def docker(*args: str, check: bool = True, timeout: int = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail("docker %s failed (%d):\n%s\n%s" % (" ".join(args[:3]), result.returncode,
                                                       result.stdout[-3000:],
                                                       result.stderr[-3000:]))
    return result


def build(context: Path, tag: str, base: str = BASE, no_cache: bool = False) -> "Build":
    cas = "".join(Path(p).read_text() for p in
                  sorted(glob.glob("/usr/local/share/ca-certificates/**/*.crt", recursive=True)))
    env = dict(os.environ, DOCKER_BUILDKIT="0")      # the classic builder: no buildx here
    start = time.monotonic()
    result = subprocess.run(
        ["docker", "build", *(["--no-cache"] if no_cache else []),
         "--network", "host", "--build-arg", "BASE_IMAGE=" + base,
         "--build-arg", "EXTRA_CA_PEM=" + cas, "-t", tag, str(context)],
        capture_output=True, text=True, timeout=1800, env=env)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        pytest.fail("docker build failed (%d):\n%s\n%s" % (result.returncode,
                                                          result.stdout[-5000:],
                                                          result.stderr[-3000:]))
    return Build(result.stdout, seconds)


class Build:
    """A classic-builder log cut into steps: 'Step 8/24 : RUN ...' and what followed."""

    def __init__(self, log: str, seconds: float):
        self.log, self.seconds = log, seconds
        self.steps: List[tuple] = []
        for chunk in re.split(r"^Step \d+/\d+ : ", log, flags=re.M)[1:]:
            instruction, _, rest = chunk.partition("\n")
            self.steps.append((instruction, "---> Using cache" in rest))

    def step(self, *needles: str) -> tuple:
        found = [s for s in self.steps if all(n in s[0] for n in needles)]
        assert len(found) == 1, "no single step with %s in:\n%s" % (needles, self.log[-4000:])
        return found[0]

    def cached(self, *needles: str) -> bool:
        return self.step(*needles)[1]

    def summary(self) -> str:
        return "%.1fs, %d of %d steps from the cache" % (
            self.seconds, sum(c for _, c in self.steps), len(self.steps))


def ensure_base(base: str) -> None:
    if docker("image", "inspect", base, check=False).returncode == 0:
        return
    release = base.rsplit(":", 1)[-1]
    result = subprocess.run(["bash", str(ROOT / "molecule/images/build.sh"), release],
                            capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        pytest.fail("cannot build the base image %s:\n%s" % (base, result.stderr[-3000:]))


def copy_context(dest: Path) -> Path:
    # A copy, so the test can change "the source" without touching the work tree.
    shutil.copytree(AGENT, dest, ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", "*.egg-info", "build", "dist", ".venv"))
    return dest


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _require_docker()
    ensure_base(BASE)
    context = copy_context(tmp_path_factory.mktemp("image") / "agent")
    first = build(context, TAG, no_cache=True)      # a real first build, from PyPI

    # Change only the agent's source, as a developer would, and build again.
    init = context / "sysreport" / "api" / "__init__.py"
    init.write_text(init.read_text() + "# rebuild probe %s\n" % uuid.uuid4().hex)
    second = build(context, TAG)

    size = int(docker("image", "inspect", "--format", "{{.Size}}", TAG).stdout.strip())
    print("\nfirst build:  %s\nsecond build: %s (%.0f%% of the first)\nimage %s: %.1f MiB"
          % (first.summary(), second.summary(), 100 * second.seconds / max(first.seconds, 0.1),
             TAG, size / 2**20))
    # The dependency steps come from the cache ...
    assert second.cached("COPY pyproject.toml")
    assert second.cached("pip wheel", ".[api]"), "dependency wheels were rebuilt"
    assert second.cached("COPY --from=build /wheels/deps")
    assert second.cached("pip install", "/tmp/wheels/deps")
    # ... and the project's steps do not (the change was seen).
    assert not second.cached("COPY sysreport")
    assert not second.cached("pip wheel", "--no-deps")
    assert not second.cached("pip install", "/tmp/wheels/app")
    yield TAG
    # The next run builds without the cache anyway: leave no image (and no layers) behind.
    docker("rmi", TAG, check=False)


@pytest.fixture
def token_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "secrets"
    directory.mkdir()
    token = directory / "api-token"
    token.write_text(TOKEN + "\n")
    os.chown(token, 10001, 10001)           # the image's user; mode 0400 as a secret
    token.chmod(0o400)
    return directory


def exec_get(container: str, path: str, token: str = "") -> tuple:
    code = (
        "import json, sys, urllib.request, urllib.error\n"
        "req = urllib.request.Request('http://127.0.0.1:8765' + sys.argv[1])\n"
        "tok = sys.stdin.read().strip()\n"
        "if tok: req.add_header('Authorization', 'Bearer ' + tok)\n"
        "try:\n"
        "    r = urllib.request.urlopen(req, timeout=30); print(r.status); print(r.read().decode())\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(e.code); print(e.read().decode())\n")
    # The token goes in on stdin: never on a command line.
    result = subprocess.run(["docker", "exec", "-i", container, "/opt/sysreport/bin/python",
                             "-c", code, path], input=token, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    status, _, body = result.stdout.partition("\n")
    return int(status), body


def test_image_serves_the_hosts_processes_with_a_token(image, token_dir):
    name = "sysreport-api-test-" + uuid.uuid4().hex[:8]
    docker("run", "-d", "--name", name, "--pid=host", "--network", "none", "--read-only",
           "-v", "%s:/run/secrets:ro" % token_dir, image)
    try:
        wait_healthy(name)
        assert docker("exec", name, "id", "-u").stdout.strip() == "10001"
        status, body = exec_get(name, "/processes?limit=10000")
        assert status == 401 and "Bearer" in body
        status, body = exec_get(name, "/processes?limit=10000", token="wrong")
        assert status == 401
        status, body = exec_get(name, "/processes?limit=10000&sort=pid", token=TOKEN)
        assert status == 200, body
        listing = json.loads(body)
        pids = {row["pid"] for row in listing["processes"]}
        assert os.getpid() in pids            # this test's own process: the host's view
        assert 1 in pids
        status, body = exec_get(name, "/report", token=TOKEN)
        assert status == 200, body
        assert json.loads(body)["schema_version"] == 1
        logs = docker("logs", name)
        assert TOKEN not in logs.stdout + logs.stderr
        assert "serving http://0.0.0.0:8765/ (token required)" in logs.stderr
    finally:
        docker("rm", "-f", name, check=False)


def test_image_refuses_to_listen_without_a_token(image):
    result = docker("run", "--rm", "--network", "none", image, check=False, timeout=120)
    assert result.returncode == 78
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to listen on 0.0.0.0 without a token" in lines[0]


def wait_healthy(name: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if exec_get(name, "/healthz")[0] == 200:
                return
        except AssertionError:
            pass
        running = docker("inspect", "--format", "{{.State.Running}}", name).stdout.strip()
        if running != "true" or time.monotonic() > deadline:
            pytest.fail("container did not come up:\n" + docker("logs", name).stderr)
        time.sleep(0.5)


def test_the_api_on_python_3_9(tmp_path, token_dir):
    # The oldest Python the agent supports, for real: FastAPI evaluates the endpoints'
    # annotations at start-up, so a 3.10-only form would fail here, not on the host.
    _require_docker()
    base = "sysreport-debian:bullseye"
    ensure_base(base)
    build(copy_context(tmp_path / "agent"), "sysreport-api:test-py39", base=base)
    name = "sysreport-api-py39-" + uuid.uuid4().hex[:8]
    docker("run", "-d", "--name", name, "--pid=host", "--network", "none",
           "-v", "%s:/run/secrets:ro" % token_dir, "sysreport-api:test-py39")
    try:
        wait_healthy(name)
        version = docker("exec", name, "/opt/sysreport/bin/python", "-c",
                         "import sys; print('%d.%d' % sys.version_info[:2])").stdout.strip()
        assert version == "3.9"
        status, body = exec_get(name, "/processes?sort=cpu&limit=3&user=root", token=TOKEN)
        assert status == 200, body
        assert json.loads(body)["returned"] == 3
        status, body = exec_get(name, "/processes?sort=size", token=TOKEN)
        assert status == 422 and "'memory', 'rss', 'cpu', 'pid' or 'name'" in body
        status, body = exec_get(name, "/report", token=TOKEN)
        assert status == 200 and json.loads(body)["schema_version"] == 1
    finally:
        docker("rm", "-f", name, check=False)
