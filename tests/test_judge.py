"""Thresholds, per-mount overrides and the order of problems, with synthetic documents."""

from __future__ import annotations

import pytest

from sample_reports import empty_trends, filesystem, make_config, make_facts
from sysreport.judge import judge, level

DEFAULT = make_config()


def verdict(config=DEFAULT, trends=None, **knobs):
    return judge(make_facts(**knobs), trends or empty_trends(), config)


def messages(v):
    return [(p["severity"], p["message"]) for p in v["problems"]]


def test_a_healthy_host_is_ok():
    assert verdict() == {"status": "OK", "problems": []}


@pytest.mark.parametrize("value, expected", [(0, "OK"), (79.9, "OK"), (80, "WARN"), (89.9, "WARN"),
                                             (90, "CRIT"), (100, "CRIT"), (None, "OK")])
def test_level_counts_a_limit_reached(value, expected):
    assert level(value, 80, 90) == expected


@pytest.mark.parametrize("days, expected", [(30, "OK"), (14.1, "OK"), (14, "WARN"), (3.1, "WARN"),
                                            (3, "CRIT"), (0, "CRIT")])
def test_level_lower_is_worse(days, expected):
    assert level(days, 14, 3, lower_is_worse=True) == expected


@pytest.mark.parametrize("percent, status", [(79.0, "OK"), (85.0, "WARN"), (97.0, "CRIT")])
def test_disk_percent(percent, status):
    v = verdict(disk_percent={"/": percent})
    assert v["status"] == status
    if status != "OK":
        assert messages(v) == [(status, f"/ {percent:.0f}% full")]


def test_per_mount_override_raises_the_limit_for_that_mount_only():
    config = make_config({"thresholds": {"mounts": {
        "/var/lib/docker": {"disk_percent": {"warn": 90, "crit": 95}}}}})
    v = verdict(config, disk_percent={"/": 85.0, "/var/lib/docker": 85.0})
    assert messages(v) == [("WARN", "/ 85% full")]
    v = verdict(config, disk_percent={"/": 50.0, "/var/lib/docker": 96.0})
    assert messages(v) == [("CRIT", "/var/lib/docker 96% full")]


def test_inodes_are_judged_with_their_own_limits():
    fs = [filesystem("/", 20.0, inodes_percent=93.0), filesystem("/srv", 20.0, inodes_percent=None)]
    assert messages(verdict(filesystems=fs)) == [("CRIT", "/ inodes 93%")]


@pytest.mark.parametrize("policy, status", [("crit", "CRIT"), ("warn", "WARN"), ("ignore", "OK")])
def test_failed_units_severity_comes_from_config(policy, status):
    config = make_config({"thresholds": {"failed_units": policy}})
    v = verdict(config, failed_units=["nginx.service", "backup.service"])
    assert v["status"] == status
    if status != "OK":
        assert messages(v) == [(status, "2 failed units")]
        assert v["problems"][0]["subject"] == "nginx.service, backup.service"


def test_one_failed_unit_is_named():
    assert messages(verdict(failed_units=["nginx.service"])) == [("CRIT", "nginx.service failed")]


def test_memory_swap_cpu_load():
    assert messages(verdict(memory_percent=96.0)) == [("CRIT", "memory 96%")]
    assert messages(verdict(swap_percent=60.0)) == [("WARN", "swap 60%")]
    assert messages(verdict(cpu_percent=99.0)) == [("CRIT", "cpu 99%")]
    assert messages(verdict(load_per_core=2.5)) == [("WARN", "load 2.5/core")]


def test_swap_without_swap_space_is_not_judged():
    facts = make_facts()
    facts["swap"] = {"total": 0, "used": 0, "free": 0, "percent": 100.0}
    assert judge(facts, empty_trends(), DEFAULT)["status"] == "OK"


def test_recent_reboot_warns_and_can_be_switched_off():
    assert messages(verdict(uptime_seconds=3 * 3600)) == [("WARN", "rebooted 3h ago")]
    off = make_config({"thresholds": {"recent_reboot_hours": 0}})
    assert verdict(off, uptime_seconds=3 * 3600)["status"] == "OK"


def test_temperatures():
    temps = [{"sensor": "coretemp", "label": "Package id 0", "current": 91.0, "high": 80.0,
              "critical": 100.0},
             {"sensor": "nvme", "label": "Composite", "current": 45.0, "high": None, "critical": None}]
    assert messages(verdict(temperatures=temps)) == [("CRIT", "Package id 0 91°C")]


def test_days_until_full_from_the_forecasts():
    trends = empty_trends("2026-12-02T13:00:00+00:00")
    trends["forecasts"] = [
        {"mount": "/var", "days_until_full": 2.0, "bytes_per_day": 5e9, "near": True},
        {"mount": "/srv", "days_until_full": 10.0, "bytes_per_day": 1e9, "near": True},
        {"mount": "/", "days_until_full": 200.0, "bytes_per_day": 1e6, "near": False},
        {"mount": "/home", "days_until_full": None, "bytes_per_day": -5.0, "near": False},
    ]
    assert messages(verdict(trends=trends)) == [("CRIT", "/var full in ~2 days"),
                                               ("WARN", "/srv full in ~10 days")]


def test_days_until_full_override_per_mount():
    config = make_config({"thresholds": {"mounts": {"/srv": {"days_until_full": {"warn": 5, "crit": 1}}}}})
    trends = empty_trends()
    trends["forecasts"] = [{"mount": "/srv", "days_until_full": 10.0, "bytes_per_day": 1e9, "near": False}]
    assert verdict(config, trends=trends)["status"] == "OK"


def test_worst_first_and_unavailable_sections_are_not_judged():
    v = verdict(memory_percent=88.0, disk_percent={"/": 97.0}, failed_units=["a.service"],
                unavailable=["cpu", "load"])
    assert v["status"] == "CRIT"
    assert messages(v) == [("CRIT", "/ 97% full"), ("CRIT", "a.service failed"), ("WARN", "memory 88%")]
    for p in v["problems"]:
        assert set(p) == {"severity", "section", "subject", "message"}
        assert len(p["message"]) <= 40


def test_an_empty_document_is_ok():
    facts = {"schema_version": 1, "generated_at": "2026-12-03T13:00:04+00:00", "unavailable": {}}
    assert judge(facts, None, DEFAULT) == {"status": "OK", "problems": []}
