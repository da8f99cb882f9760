"""Benchmark: `sysreport serve` GET /processes against Glances' REST API, same host.

    $ .venv/bin/python benchmarks/api.py --processes 1000
    1000 extra processes (1094 in all), 300 requests each, 4 clients x 100 for throughput
                                  sysreport      glances     ratio
    latency p50 (ms)                   ...

Not a test: it asserts nothing, it prints numbers. What it does:
  1. spawns N `sleep` children (so the host has >= N processes; all killed at the end);
  2. starts `sysreport serve` (loopback, no token) and `glances -w --disable-webui`
     (loopback), each on a free port, and waits until both answer;
  3. idle RSS of each server (after start-up and one request, settled);
  4. latency: sequential keep-alive requests paced at --rate per second (a steady poller,
     so the run spans many refreshes of both servers and p99 includes them), p50/p99:
     sysreport /processes (the default 50 rows and the whole table) and Glances
     /api/4/processlist (always the whole table, its only form);
  5. "fresh" latency: a few requests spaced wider than each server's refresh (sysreport
     shares a scan for 1 s, Glances refreshes every 2 s), so every one is a full pass
     over /proc;
  6. throughput: C concurrent keep-alive clients x R requests each, requests/second;
  7. RSS after the load.
Everything runs over 127.0.0.1; nothing else is contacted.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(conn: http.client.HTTPConnection, path: str) -> Tuple[int, int]:
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    return response.status, len(body)


def wait_until_up(port: int, path: str, proc: subprocess.Popen, name: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("%s exited with %s during start-up" % (name, proc.returncode))
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            if get(conn, path)[0] == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("%s did not answer on port %d" % (name, port))


def rss_mib(proc: subprocess.Popen) -> float:
    """RSS of the server process and its children (Glances or uvicorn may fork)."""
    parent = psutil.Process(proc.pid)
    total = parent.memory_info().rss
    for child in parent.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def latencies(port: int, path: str, count: int, spacing: float = 0.0) -> Tuple[List[float], int]:
    """`count` requests, each started `spacing` seconds after the previous one started
    (or at once when it took longer)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times, size = [], 0
    due = time.perf_counter()
    for _ in range(count):
        if spacing:
            due += spacing
            time.sleep(max(0.0, due - time.perf_counter()))
        start = time.perf_counter()
        status, size = get(conn, path)
        times.append((time.perf_counter() - start) * 1000)
        if status != 200:
            sys.exit("GET %s on port %d: HTTP %d" % (path, port, status))
    conn.close()
    return times, size


def throughput(port: int, path: str, clients: int, each: int) -> float:
    errors: List[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for _ in range(each):
            status, _ = get(conn, path)
            if status != 200:
                errors.append(str(status))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        sys.exit("throughput on port %d: %d errors" % (port, len(errors)))
    return clients * each / elapsed


def pct(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def stop(proc: Optional[subprocess.Popen]) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=1000,
                        help="sleep children to spawn first (default 1000)")
    parser.add_argument("--requests", type=int, default=300,
                        help="sequential requests per endpoint for latency (default 300)")
    parser.add_argument("--rate", type=float, default=20.0,
                        help="their pace, requests per second (default 20: 15 s each)")
    parser.add_argument("--fresh", type=int, default=8,
                        help="spaced requests for fresh-scan latency (default 8)")
    parser.add_argument("--clients", type=int, default=4,
                        help="concurrent clients for throughput (default 4)")
    parser.add_argument("--each", type=int, default=100,
                        help="requests per client for throughput (default 100)")
    parser.add_argument("--glances", default=shutil.which("glances", path=os.path.dirname(
        sys.executable)) or shutil.which("glances") or "glances",
                        help="the glances program (default: next to this python)")
    args = parser.parse_args()

    children: List[subprocess.Popen] = []
    servers: Dict[str, subprocess.Popen] = {}
    tmp = Path(tempfile.mkdtemp(prefix="sysreport-bench-"))
    try:
        for _ in range(args.processes):
            children.append(subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL))
        total = len(psutil.pids())

        config = tmp / "sysreport.toml"
        config.write_text('[state]\ndirectory = "%s"\n' % (tmp / "state"))
        ours, theirs = free_port(), free_port()
        servers["sysreport"] = subprocess.Popen(
            [sys.executable, "-m", "sysreport", "--config", str(config), "serve",
             "--port", str(ours)], stdout=subprocess.DEVNULL,
            stderr=(tmp / "sysreport.log").open("w"))
        servers["glances"] = subprocess.Popen(
            [args.glances, "-w", "--disable-webui", "--bind", "127.0.0.1", "--port",
             str(theirs), "--disable-check-update", "--disable-autodiscover", "-q"],
            stdout=subprocess.DEVNULL, stderr=(tmp / "glances.log").open("w"),
            env=dict(os.environ, HOME=str(tmp)))
        wait_until_up(ours, "/healthz", servers["sysreport"], "sysreport")
        wait_until_up(theirs, "/api/4/processlist", servers["glances"], "glances")
        print("%d extra processes (%d in all); %d sequential requests each at %g/s; "
              "%d spaced; %d clients x %d for throughput"
              % (args.processes, total, args.requests, args.rate, args.fresh, args.clients,
                 args.each))

        # Idle: started, answered once, then left alone.
        latencies(ours, "/processes", 1)
        time.sleep(3)
        idle = {"sysreport": rss_mib(servers["sysreport"]),
                "glances": rss_mib(servers["glances"])}

        runs = [("sysreport", ours, "/processes"),
                ("sysreport", ours, "/processes?limit=10000"),
                ("glances", theirs, "/api/4/processlist")]
        results = {}
        for name, port, path in runs:
            latencies(port, path, 3)                       # warm
            hot, size = latencies(port, path, args.requests, spacing=1.0 / args.rate)
            spacing = 1.1 if name == "sysreport" else 2.1
            fresh, _ = latencies(port, path, args.fresh, spacing=spacing)
            rps = throughput(port, path, args.clients, args.each)
            results[(name, path)] = {"p50": pct(hot, 50), "p99": pct(hot, 99),
                                     "mean": statistics.fmean(hot),
                                     "fresh_p50": pct(fresh, 50), "fresh_max": max(fresh),
                                     "rps": rps, "bytes": size}
        loaded = {"sysreport": rss_mib(servers["sysreport"]),
                  "glances": rss_mib(servers["glances"])}

        g = results[("glances", "/api/4/processlist")]
        print("%-40s %12s %12s %12s" % ("", "p50 ms", "p99 ms", "vs glances p99"))
        for (name, path), r in results.items():
            print("%-40s %12.2f %12.2f %11.2fx" % ("%s %s" % (name, path), r["p50"], r["p99"],
                                                  r["p99"] / g["p99"]))
        print("%-40s %12s %12s %12s" % ("", "fresh p50", "fresh max", "body bytes"))
        for (name, path), r in results.items():
            print("%-40s %12.2f %12.2f %12d" % ("%s %s" % (name, path), r["fresh_p50"],
                                               r["fresh_max"], r["bytes"]))
        print("%-40s %12s %12s" % ("", "req/s", "vs glances"))
        for (name, path), r in results.items():
            print("%-40s %12.1f %11.2fx" % ("%s %s" % (name, path), r["rps"],
                                            r["rps"] / g["rps"]))
        print("%-40s %12s %12s" % ("RSS MiB", "idle", "after load"))
        for name in ("sysreport", "glances"):
            print("%-40s %12.1f %12.1f" % (name, idle[name], loaded[name]))
        print("idle RSS ratio sysreport/glances: %.2f" % (idle["sysreport"] / idle["glances"]))
        return 0
    finally:
        for proc in servers.values():
            stop(proc)
        for child in children:
            child.kill()
        for child in children:
            child.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
