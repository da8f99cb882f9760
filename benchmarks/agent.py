#!/usr/bin/env python3
"""What the agent costs, side by side with its floor and with Glances.

    $ .venv/bin/python benchmarks/agent.py [--runs 7] [--strict]
    what                                  cpu ms   wall ms   rss MiB
    floor: python -c "import psutil"        28.1      30.9      11.9
    sysreport collect --format json         38.0     141.2      17.5
    glances --stdout-json ... (1 cycle)    480.6    3241.0      45.2
    sysreport send (loopback SMTP)         ...
    plain smtplib, the same message        ...

Each command is started as a child process and measured with os.wait4(): CPU time
(user + system) and peak RSS from the kernel's rusage of that child alone (what
/usr/bin/time -v reports), wall time around fork/exec/wait. Medians of --runs runs
after one warm-up run. The SMTP server (tests/smtp_server.py, implicit TLS + AUTH) runs
in this process, so its own work is not counted against the sender.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent          # run with the venv's interpreter
sys.path.insert(0, str(ROOT / "tests"))

SAMPLE_SECONDS = 0.1     # report.cpu_sample_seconds, the default
PASSWORD = "bench-app-password"
USER = "bench@example.com"

SMTPLIB_SENDER = r"""
import re, smtplib, ssl, sys
host, port, ca, user, pwfile, eml = sys.argv[1:7]
with open(pwfile) as f:
    password = f.read().rstrip("\n")
with open(eml, "rb") as f:
    data = re.sub(rb"\r?\n", b"\r\n", f.read())    # SMTP wants CRLF, as sysreport sends
context = ssl.create_default_context(cafile=ca)
with smtplib.SMTP_SSL(host, int(port), context=context, timeout=30) as smtp:
    smtp.login(user, password)
    smtp.sendmail(user, ["ops@example.com"], data)
"""


# Peak RSS must be measured from a small parent: Linux carries the high-water mark of
# the memory a child had before exec() -- a copy of (or shared with) its parent's --
# into its ru_maxrss, so a child of this big process (aiosmtpd, cryptography loaded)
# would never look smaller than ~25 MiB. A tiny launcher (python -I -S, ~9 MiB) forks,
# execs the command and reports its rusage, like /usr/bin/time -v does.
LAUNCHER = r"""
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0); os.dup2(devnull, 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - start
print(os.waitstatus_to_exitcode(status), ru.ru_utime + ru.ru_stime, wall, ru.ru_maxrss)
"""


def measure(command: List[str], env: Optional[Dict[str, str]] = None) -> Tuple[float, float, float]:
    """(cpu seconds, wall seconds, peak RSS MiB) of one run of command."""
    done = subprocess.run([sys.executable, "-I", "-S", "-c", LAUNCHER] + command,
                          capture_output=True, text=True, env=env)
    try:
        code, cpu, wall, maxrss = done.stdout.split()
    except ValueError:
        raise SystemExit("launcher failed: %s" % done.stderr) from None
    if int(code) != 0:
        raise SystemExit("benchmark command failed (%s): %s\n%s"
                         % (code, " ".join(command), done.stderr))
    return float(cpu), float(wall), int(maxrss) / 1024.0


def median_of(runs: int, command: List[str], env: Optional[Dict[str, str]] = None
              ) -> Tuple[float, float, float]:
    measure(command, env)                          # warm-up: page cache, .pyc files
    samples = [measure(command, env) for _ in range(runs)]
    return tuple(statistics.median(s[i] for s in samples) for i in range(3))  # type: ignore


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="measured runs per command (median)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    from smtp_server import TestSMTPServer

    python = sys.executable
    sysreport = str(VENV_BIN / "sysreport")
    glances = str(VENV_BIN / "glances")
    # Without PYTHONDONTWRITEBYTECODE: a wheel install on a host has its .pyc files, so
    # the warm-up run writes the editable agent's (else every run compiles ~20 modules).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SYSREPORT_", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY",
                                "PYTHONDONTWRITEBYTECODE"))}
    results: Dict[str, Tuple[float, float, float]] = {}
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="sysreport-bench-") as tmp:
        collect_cfg = Path(tmp) / "collect.toml"
        collect_cfg.write_text('[state]\ndirectory = "%s/collect-state"\n' % tmp)
        results["floor"] = median_of(args.runs, [python, "-c", "import psutil"], env)
        # not a target: what any Python CLI that parses options, reads TOML, logs and
        # prints JSON pays before doing anything
        results["stdlib"] = median_of(args.runs, [
            python, "-c", "import psutil, argparse, logging, tomllib, json, typing"
            if sys.version_info >= (3, 11) else
            "import psutil, argparse, logging, json, typing"], env)
        results["collect"] = median_of(args.runs, [sysreport, "--config", str(collect_cfg),
                                                   "collect", "--format", "json"], env)
        if os.path.exists(glances):
            results["glances"] = median_of(max(3, args.runs // 2), [
                glances, "--stdout-json", "cpu,mem,load,fs", "--stop-after", "1"], env)

        pwfile = Path(tmp) / "password"
        pwfile.write_text(PASSWORD + "\n")
        with TestSMTPServer(PASSWORD, tls="tls", cert_dir=os.path.join(tmp, "certs"),
                            user=USER) as server:
            cfg = Path(tmp) / "send.toml"
            cfg.write_text("\n".join([
                "[mail]", 'to = ["ops@example.com"]',
                "[smtp]", 'host = "127.0.0.1"', "port = %d" % server.port,
                'security = "tls"', 'username = "%s"' % USER,
                'password_file = "%s"' % pwfile, 'ca_file = "%s"' % server.ca_file,
                "[state]", 'directory = "%s/state"' % tmp, ""]))
            results["send"] = median_of(args.runs, [sysreport, "--config", str(cfg), "send"], env)
            subprocess.run([sysreport, "--config", str(cfg), "preview", "--output",
                            os.path.join(tmp, "preview")], check=True, env=env,
                           stderr=subprocess.DEVNULL)
            results["smtplib"] = median_of(args.runs, [
                python, "-c", SMTPLIB_SENDER, server.host, str(server.port), server.ca_file,
                USER, str(pwfile), os.path.join(tmp, "preview", "report.eml")], env)
            delivered = len(server.messages)
        expected = 2 * (args.runs + 1)
        if delivered != expected:
            raise SystemExit("the SMTP server got %d messages, expected %d"
                             % (delivered, expected))

    labels = {
        "floor": 'floor: python -c "import psutil"',
        "stdlib": "  floor + argparse logging tomllib json typing",
        "collect": "sysreport collect --format json",
        "glances": "glances --stdout-json cpu,mem,load,fs (1 cycle)",
        "send": "sysreport send (loopback SMTP, TLS)",
        "smtplib": "plain smtplib, the same message",
    }
    print("Python %s, %d CPUs, median of %d runs; load average %.1f before, %.1f after "
          "(wall times stretch on a busy machine; CPU times much less)"
          % (sys.version.split()[0], os.cpu_count(), args.runs, load_before, os.getloadavg()[0]))
    print("%-48s %9s %9s %9s" % ("what", "cpu ms", "wall ms", "rss MiB"))
    for key, label in labels.items():
        if key in results:
            cpu, wall, rss = results[key]
            print("%-48s %9.1f %9.1f %9.1f" % (label, cpu * 1000, wall * 1000, rss))

    floor_cpu, floor_wall, _ = results["floor"]
    cpu, wall, rss = results["collect"]
    send_cpu, send_wall, send_rss = results["send"]
    checks = [
        ("collect CPU <= 1.5x floor", cpu / floor_cpu, "%.2fx" % (cpu / floor_cpu),
         cpu <= 1.5 * floor_cpu),
        ("collect wall <= floor + sample window + 30 ms",
         wall * 1000, "%.0f ms <= %.0f ms" % (wall * 1000,
                                             (floor_wall + SAMPLE_SECONDS + 0.030) * 1000),
         wall <= floor_wall + SAMPLE_SECONDS + 0.030),
        ("collect peak RSS < 20 MiB", rss, "%.1f MiB" % rss, rss < 20),
        ("send wall < 0.4 s", send_wall, "%.0f ms" % (send_wall * 1000), send_wall < 0.4),
        ("send peak RSS < 35 MiB", send_rss, "%.1f MiB" % send_rss, send_rss < 35),
    ]
    if "glances" in results:
        g_cpu = results["glances"][0]
        checks.insert(3, ("collect CPU <= 1/5 of Glances'", cpu / g_cpu,
                          "1/%.1f" % (g_cpu / cpu), cpu <= g_cpu / 5))
    s_cpu, s_wall, s_rss = results["smtplib"]
    print()
    print("send vs plain smtplib: cpu %.2fx, wall %.2fx, rss %+.1f MiB"
          % (send_cpu / s_cpu, send_wall / s_wall, send_rss - s_rss))
    print()
    missed = 0
    for name, _, shown, ok in checks:
        print("%-4s %-48s %s" % ("ok" if ok else "MISS", name, shown))
        missed += not ok
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
