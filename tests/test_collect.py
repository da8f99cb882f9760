"""The collectors against this real machine, and their isolation from each other."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from sample_reports import make_config
from sysreport import collect
from sysreport.collect import Unavailable, collect_all, disks, host, isolate, processes, systemd
from sysreport.units import bytes2human, duration, epoch_to_iso, iso_to_epoch

AGENT = Path(__file__).resolve().parent.parent / "agent"


@pytest.fixture(scope="module")
def facts():
    return collect_all(make_config({"report": {"top_processes": 7}}))


# --------------------------------------------------------------------------- the whole

def test_every_section_is_present_or_not_available_with_a_reason(facts):
    for section in collect.SECTIONS:
        assert section in facts
        if facts[section] is None:
            assert facts["unavailable"][section].startswith("not available: ")
            assert len(facts["unavailable"][section]) > len("not available: ")
        else:
            assert section not in facts["unavailable"]
    assert facts["schema_version"] == 1
    assert facts["agent"]["version"] == "0.1.0"
    iso_to_epoch(facts["generated_at"])  # parses


def test_the_sections_that_every_linux_host_has_are_collected(facts):
    for section in ("host", "cpu", "load", "memory", "swap", "filesystems", "network", "processes"):
        assert facts[section] is not None, facts["unavailable"].get(section)


def test_host(facts):
    h = facts["host"]
    assert h["hostname"]
    assert h["kernel"] == os.uname().release
    assert h["uptime_seconds"] > 0
    assert abs(iso_to_epoch(h["boot_time"]) - psutil.boot_time()) < 2


def test_cpu_is_sampled_over_the_window_not_the_meaningless_first_call(facts):
    c = facts["cpu"]
    assert c["logical"] == psutil.cpu_count()
    assert len(c["per_cpu"]) == c["logical"]
    assert 0.0 <= c["percent"] <= 100.0
    assert all(0.0 <= p <= 100.0 for p in c["per_cpu"])
    # The sleep covers at least the configured window (default 0.1 s).
    assert c["sample_seconds"] >= 0.099


def test_memory_and_swap_match_psutil(facts):
    assert facts["memory"]["total"] == psutil.virtual_memory().total
    assert facts["swap"]["total"] == psutil.swap_memory().total
    assert 0 <= facts["memory"]["percent"] <= 100


def test_load_per_core_is_load_divided_by_cores(facts):
    load = facts["load"]
    cores = psutil.cpu_count()
    assert load["per_core15"] == pytest.approx(load["load15"] / cores, abs=0.01)


def test_filesystems_are_real_deduplicated_and_agree_with_statvfs(facts):
    fss = facts["filesystems"]
    assert fss, "a Linux host has at least one real filesystem"
    mounts = [f["mount"] for f in fss]
    devices = [f["device"] for f in fss]
    assert len(set(devices)) == len(devices)
    assert len(set(mounts)) == len(mounts)
    for fs in fss:
        assert fs["fstype"] not in ("tmpfs", "devtmpfs", "overlay", "squashfs", "proc", "sysfs")
        assert not fs["fstype"].startswith(("cgroup", "fuse."))
        du = shutil.disk_usage(fs["mount"])
        assert fs["total"] == du.total
        assert 0 <= fs["percent"] <= 100
        assert fs["used"] + fs["free"] <= fs["total"]


def test_network_skips_loopback(facts):
    names = [n["interface"] for n in facts["network"]]
    assert "lo" not in names
    assert set(names) <= set(psutil.net_io_counters(pernic=True))


def test_processes_top_lists(facts):
    p = facts["processes"]
    assert p["count"] > 1
    assert 0 < len(p["by_memory"]) <= 7 and len(p["by_cpu"]) <= 7
    rss = [r["rss"] for r in p["by_memory"]]
    assert rss == sorted(rss, reverse=True)
    for row in p["by_memory"] + p["by_cpu"]:
        assert set(row) == {"pid", "user", "name", "cmdline", "rss", "memory_percent", "cpu_percent"}
        assert len(row["cmdline"]) <= 80
    assert os.getpid() not in [r["pid"] for r in p["by_cpu"]]


def test_a_busy_process_shows_in_top_by_cpu_and_an_idle_one_does_not():
    # Real processes during the window: the spinning one's share is measured (not the
    # meaningless 0.0 of a first cpu_percent() call); the sleeping one used nothing.
    # (How much the spinner gets depends on the machine's load: only > 0 is asserted.)
    busy = subprocess.Popen([sys.executable, "-c", "print('up', flush=True)\nwhile True: pass"],
                            stdout=subprocess.PIPE)
    idle = subprocess.Popen([sys.executable, "-c", "import time\nprint('up', flush=True)\n"
                             "time.sleep(60)"], stdout=subprocess.PIPE)
    try:
        for child in (busy, idle):  # started, past the interpreter's own start-up work
            child.stdout.readline()
        facts = collect_all(make_config({"report": {"top_processes": 100,
                                                    "cpu_sample_seconds": 0.5}}))
    finally:
        for child in (busy, idle):
            child.kill()
            child.wait()
            child.stdout.close()
    rows = {r["pid"]: r for r in facts["processes"]["by_cpu"]}
    assert busy.pid in rows
    assert rows[busy.pid]["cpu_percent"] > 0
    assert "while True" in rows[busy.pid]["cmdline"]
    assert idle.pid not in rows


def test_systemd_section_matches_this_machine(facts):
    if not os.path.isdir("/run/systemd/system"):
        assert facts["systemd"] is None
        assert facts["unavailable"]["systemd"] == "not available: systemd not running"
    else:
        assert facts["systemd"] is not None or "systemd" in facts["unavailable"]


def test_temperatures_are_listed_or_not_available(facts):
    if facts["temperatures"] is None:
        assert facts["unavailable"]["temperatures"] in (
            "not available: no sensors reported", "not available: not supported on this platform")
    else:
        assert all(isinstance(t["current"], float) for t in facts["temperatures"])


# --------------------------------------------------------------------------- isolation

def boom(config):
    raise RuntimeError("psutil exploded")


def test_isolate_turns_any_failure_into_a_reason():
    assert isolate(lambda: 42) == (42, None)
    assert isolate(boom, None) == (None, "not available: RuntimeError: psutil exploded")

    def denied():
        raise PermissionError(13, "Permission denied")

    def access_denied():
        raise psutil.AccessDenied(pid=1)

    def absent():
        raise Unavailable("no sensors reported")

    assert isolate(denied) == (None, "not available: permission denied")
    assert isolate(access_denied) == (None, "not available: permission denied")
    assert isolate(absent) == (None, "not available: no sensors reported")


def test_isolate_lets_ctrl_c_through():
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        isolate(interrupted)


def test_a_failing_collector_does_not_stop_the_report():
    facts = collect_all(make_config(), collectors={"memory": boom, "filesystems": boom})
    assert facts["memory"] is None and facts["filesystems"] is None
    assert facts["unavailable"]["memory"] == "not available: RuntimeError: psutil exploded"
    assert facts["unavailable"]["filesystems"] == "not available: RuntimeError: psutil exploded"
    for section in ("host", "cpu", "load", "swap", "network", "processes"):
        assert facts[section] is not None


def test_only_the_configured_sections_are_collected():
    facts = collect_all(make_config({"report": {"sections": ["memory", "load"]}}))
    assert facts["memory"] is not None and facts["load"] is not None
    for section in set(collect.SECTIONS) - {"memory", "load"}:
        assert facts[section] is None
        assert section not in facts["unavailable"]


# --------------------------------------------------------------------------- parts

def test_device_fstypes_reads_the_nodev_flag(tmp_path):
    listing = tmp_path / "filesystems"
    listing.write_text("nodev\tsysfs\nnodev\ttmpfs\nnodev\toverlay\n\text4\n\tsquashfs\n"
                       "nodev\tnfs4\n\tfuseblk\nnodev\tzfs\n")
    kinds = disks.device_fstypes(str(listing))
    assert {"ext4", "squashfs", "fuseblk", "zfs"} <= kinds
    assert not {"sysfs", "tmpfs", "overlay"} & kinds
    assert disks.wanted("ext4", kinds) and disks.wanted("fuseblk", kinds)
    assert disks.wanted("nfs4", kinds) and disks.wanted("zfs", kinds)
    for fstype in ("tmpfs", "overlay", "squashfs", "sysfs", "fuse.gvfsd-fuse", "fuse.lxcfs"):
        assert not disks.wanted(fstype, kinds), fstype


def test_usage_matches_shutil_and_reports_inodes():
    st = os.statvfs("/")
    entry = disks.usage("/", "/dev/x", "ext4", st)
    # shutil.disk_usage computes from the same statvfs fields: compare with its formula
    # on this one sample (a second sample would differ as others write).
    assert entry["total"] == st.f_blocks * st.f_frsize == shutil.disk_usage("/").total
    assert entry["used"] == (st.f_blocks - st.f_bfree) * st.f_frsize
    assert entry["free"] == st.f_bavail * st.f_frsize
    if st.f_files:
        assert entry["inodes_total"] == st.f_files
        assert entry["inodes_used"] == st.f_files - st.f_ffree


def test_usage_without_an_inode_limit_gives_null_inodes():
    # btrfs reports f_files = 0: no inode limit, no inode percentage.
    st = os.statvfs_result((4096, 4096, 1000, 400, 300, 0, 0, 0, 0, 255))
    entry = disks.usage("/srv", "/dev/y", "btrfs", st)
    assert entry["inodes_total"] is None and entry["inodes_percent"] is None
    assert entry["used"] == 600 * 4096 and entry["free"] == 300 * 4096
    assert entry["percent"] == round(600 / 900 * 100, 1)


def test_a_call_that_hangs_is_abandoned_after_its_timeout():
    # Stands in for statvfs() on a dead NFS server: a call that does not return.
    release = threading.Event()
    try:
        with pytest.raises(TimeoutError, match="statvfs"):
            disks.bounded(lambda: release.wait(30), 0.05, "statvfs('/mnt/nfs')")
    finally:
        release.set()
    # (free blocks move as others write; the size does not)
    assert disks.bounded(lambda: os.statvfs("/"), 5.0, "statvfs").f_blocks == os.statvfs("/").f_blocks
    with pytest.raises(FileNotFoundError):
        disks.bounded(lambda: os.statvfs("/absent/path"), 5.0, "statvfs")


SYSTEMCTL_JSON = ('[{"unit":"nginx.service","load":"loaded","active":"failed","sub":"failed",'
                  '"description":"A high performance web server"},'
                  '{"unit":"backup.timer","load":"loaded","active":"failed","sub":"failed",'
                  '"description":"Nightly backup"}]\n')
SYSTEMCTL_PLAIN = ("nginx.service loaded failed failed A high performance web server\n"
                   "backup.timer  loaded failed failed Nightly backup\n")
SYSTEMCTL_BULLET = "● nginx.service loaded failed failed A high performance web server\n"


@pytest.mark.parametrize("output", [SYSTEMCTL_JSON, SYSTEMCTL_PLAIN])
def test_systemctl_output_parses_in_both_forms(output):
    units = systemd.parse(output)
    assert [u["unit"] for u in units] == ["nginx.service", "backup.timer"]
    assert units[0] == {"unit": "nginx.service", "description": "A high performance web server",
                        "active": "failed", "sub": "failed"}


def test_systemctl_output_with_bullet_and_empty():
    assert systemd.parse(SYSTEMCTL_BULLET)[0]["unit"] == "nginx.service"
    assert systemd.parse("") == [] and systemd.parse("[]\n") == []


def test_os_release_pretty_name(tmp_path):
    f = tmp_path / "os-release"
    f.write_text('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    assert host.os_pretty_name((str(tmp_path / "absent"), str(f))) == "Debian GNU/Linux 12 (bookworm)"
    f.write_text("PRETTY_NAME=Alpine\n")
    assert host.os_pretty_name((str(f),)) == "Alpine"
    assert host.os_pretty_name((str(tmp_path / "absent"),)) == ""


def test_collect_path_imports_nothing_heavy():
    code = ("import sys\n"
            "from sysreport.collect import collect_all\n"
            "from sysreport.render import text\n"
            "facts = collect_all(None)\n"
            "text.render(facts)\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in "
            "('email', 'html', 'yagmail', 'smtplib', 'ssl', 'logging', 'platform')]\n"
            "print(sorted(heavy))\n")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(AGENT)),
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- units

@pytest.mark.parametrize("n, text", [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"),
                                     (1536 * 1024, "1.5 MiB"), (-2 * 1024 ** 3, "-2.0 GiB"),
                                     (None, "-")])
def test_bytes2human(n, text):
    assert bytes2human(n) == text


@pytest.mark.parametrize("s, text", [(42, "42s"), (3725, "1h 2m"), (93784, "1d 2h"),
                                     (86400, "1d"), (120, "2m")])
def test_duration(s, text):
    assert duration(s) == text


def test_iso_round_trip_and_offsets():
    t = 1796302804
    assert epoch_to_iso(t) == "2026-12-03T13:00:04+00:00"
    assert iso_to_epoch("2026-12-03T13:00:04+00:00") == t
    assert iso_to_epoch("2026-12-03T14:00:04+01:00") == t
    assert iso_to_epoch("2026-12-03T13:00:04Z") == t
    assert iso_to_epoch("2026-12-03T13:00:04.5+00:00") == t + 0.5
    for bad in ("yesterday", "2026-12-03", "2026-13-03T13:00:04+00:00", None):
        with pytest.raises(ValueError):
            iso_to_epoch(bad)


def test_parse_stat_takes_the_name_up_to_the_last_parenthesis():
    with open("/proc/self/stat", "rb") as f:
        real = f.read()
    tail = real[real.rfind(b")"):]
    name, cpu, start, rss = processes.parse_stat(b"4242 (evil) R 1 (x\n\xff" + tail)
    assert name == "evil) R 1 (x\n\udcff"  # undecodable bytes kept as surrogates
    own = processes.parse_stat(real)
    assert (cpu, start, rss) == own[1:]
    assert own[3] > 0  # this process has resident memory


def test_the_proc_scan_and_the_psutil_fallback_agree():
    fast = {row[0]: row for row in processes.scan_proc()}
    portable = {row[0]: row for row in processes.scan_psutil()}
    common = set(fast) & set(portable)
    assert len(common) >= 0.9 * min(len(fast), len(portable))
    assert 1 in common
    # pid 1 does not change between the two scans: same name, same start (in psutil's
    # units: seconds since the epoch vs clock ticks since boot, so compare names only).
    assert fast[1][2] == portable[1][2][:15]
    assert portable[1][5] == 0  # owned by root


def test_fqdn_keeps_a_dotted_name_and_falls_back_to_the_hostname():
    assert host.fqdn("web-01.example.com") == "web-01.example.com"
    # A name no resolver knows: the lookup fails and the name stays as given.
    assert host.fqdn("sysreport-no-such-host-4f2a9c") == "sysreport-no-such-host-4f2a9c"


def test_command_line_of_a_live_and_of_a_vanished_process():
    args = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)",
            "two words", b"caf\xe9"]
    child = subprocess.Popen(args, stdout=subprocess.PIPE)
    try:
        child.stdout.readline()  # exec is done: the command line is the new one
        got = processes.command_line(child.pid)
    finally:
        child.kill()
        child.wait()
    # Arguments keep their spaces; undecodable bytes survive as surrogates.
    assert got == args[:4] + ["caf\udce9"]
    child.stdout.close()
    with pytest.raises(processes._Vanished):
        processes.command_line(child.pid)  # reaped: gone from /proc
    assert processes.command_line(os.getpid()) == psutil.Process().cmdline()
