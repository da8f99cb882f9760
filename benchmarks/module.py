"""Benchmark: `ansible all -m sysreport` against ping and setup on the same containers, and
the fleet digest of 1,000 synthetic hosts.

    $ .venv/bin/python benchmarks/module.py [--hosts 4] [--runs 7]      (make bench-module)

Measured on 2026-12-03 on a busy 2-core machine (load average ~6: ping took 2.5 s here
against 1.3 s on a quiet one), --runs 9:

    4 containers (sysreport-debian:bookworm + python3-psutil), pipelining, 9 runs each
                                      median s    min s   vs ping  vs setup
    ansible all -m ping                   2.54     1.87      1.00      0.67
    ansible all -m sysreport              2.76     1.89      1.09      0.73
    ansible all -m setup                  3.80     2.43      1.50      1.00
    targets: sysreport <= 1.2 x ping, < 0.8 x setup
    digest of 1000 hosts: build 0.011 s, text 0.006 s, html 0.006 s, whole message
    0.128 s (2 runs, best); email 311 KiB (text 42 KiB, html 254 KiB)

On the host the module spends ~20 ms importing psutil, ~8 ms importing its code and
~50 ms collecting, most of it the 0.05 s CPU window (the other collectors run inside it).

Not a test: it asserts nothing, it prints numbers. The containers run with no network,
as in tests/test_fleet.py (whose helpers it uses), and are removed at the end. The three
commands run interleaved (ping, sysreport, setup, ping, ...) so that a busy machine
weighs on all of them alike; one warm-up round is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_fleet import RUN_OPTIONS, docker, psutil_deb  # noqa: E402

PREFIX = "srbench-"
VENV_BIN = Path(sys.executable).parent


def start(count: int, tmp: str) -> list:
    deb = psutil_deb(tmp)
    names = [f"{PREFIX}{i}" for i in range(count)]
    for name in names:
        docker("rm", "--force", name, check=False)
        docker("run", "--name", name, "--hostname", name, *RUN_OPTIONS,
               "sysreport-debian:bookworm", "/sbin/init")
        docker("cp", deb, name + ":/root/python3-psutil.deb")
        docker("exec", name, "dpkg", "-i", "/root/python3-psutil.deb")
    return names


def timed(inventory: Path, module: str) -> float:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_PIPELINING="true",
               ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.junit",
               JUNIT_OUTPUT_DIR=str(inventory.parent / "junit"))
    t0 = time.perf_counter()
    done = subprocess.run([str(VENV_BIN / "ansible"), "-i", str(inventory), "all", "-m", module],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"ansible all -m {module} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def digest_timing(runs: int = 2) -> str:
    import random

    from sample_reports import make_config, make_report, unreachable
    from sysreport import digest
    from sysreport.render import digest_html, digest_text

    rng = random.Random(1)
    hosts = {}
    for i in range(1000):
        hosts[f"host{i:04d}"] = unreachable() if i % 100 == 0 else \
            make_report(f"host{i:04d}", rng.choice(["OK"] * 8 + ["WARN", "CRIT"]))
    data = {"schema_version": 1, "hosts": hosts}
    config = make_config({"mail": {"to": ["ops@example.org"]}})
    best = None
    for _ in range(runs):
        t0 = time.perf_counter()
        d = digest.build(data)
        t1 = time.perf_counter()
        text = digest_text.render(d)
        t2 = time.perf_counter()
        page = digest_html.render(d)
        t3 = time.perf_counter()
        size = len(digest.message(d, data, config).as_bytes())
        t4 = time.perf_counter()
        times = (t1 - t0, t2 - t1, t3 - t2, t4 - t0)
        best = times if best is None or times[3] < best[3] else best
    return (f"digest of 1000 hosts: build {best[0]:.3f} s, text {best[1]:.3f} s, "
            f"html {best[2]:.3f} s, whole message {best[3]:.3f} s ({runs} runs, best); "
            f"email {size / 1024:.0f} KiB (text {len(text) / 1024:.0f} KiB, "
            f"html {len(page) / 1024:.0f} KiB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=4, help="containers to start (default 4)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (default 7)")
    parser.add_argument("--digest-only", action="store_true", help="skip the containers")
    args = parser.parse_args()

    if not args.digest_only:
        modules = ["ping", "sysreport", "setup"]
        with tempfile.TemporaryDirectory() as tmp:
            names = start(args.hosts, tmp)
            try:
                inventory = Path(tmp) / "hosts.yml"
                inventory.write_text(json.dumps({"all": {
                    "vars": {"ansible_connection": "community.docker.docker",
                             "ansible_python_interpreter": "/usr/bin/python3"},
                    "hosts": {n: {} for n in names}}}))
                for module in modules:          # warm-up: caches, page cache
                    timed(inventory, module)
                times = {m: [] for m in modules}
                for _ in range(args.runs):
                    for module in modules:
                        times[module].append(timed(inventory, module))
            finally:
                for name in names:
                    docker("rm", "--force", name, check=False)
        med = {m: statistics.median(t) for m, t in times.items()}
        print(f"{args.hosts} containers (sysreport-debian:bookworm + python3-psutil), "
              f"pipelining, {args.runs} runs each")
        print(f"{'':32} {'median s':>9} {'min s':>8} {'vs ping':>9} {'vs setup':>9}")
        for m in modules:
            print(f"{'ansible all -m ' + m:32} {med[m]:9.2f} {min(times[m]):8.2f} "
                  f"{med[m] / med['ping']:9.2f} {med[m] / med['setup']:9.2f}")
        print("targets: sysreport <= 1.2 x ping, < 0.8 x setup")
    print(digest_timing())
    return 0


if __name__ == "__main__":
    sys.exit(main())
