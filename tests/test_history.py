"""History on disk (pruning, corrupt files, atomic writes) and the trend maths,
with synthetic snapshots at known times."""

from __future__ import annotations

import json
import logging
import os

import pytest

from sample_reports import GIB, MIB, filesystem, make_config, make_facts, process
from sysreport import history, report
from sysreport.units import epoch_to_iso, iso_to_epoch

T0 = iso_to_epoch("2026-12-01T06:00:00+00:00")
DAY = 86400


def config_for(tmp_path, **state):
    return make_config({"state": {"directory": str(tmp_path), **state}})


def facts_at(t, **knobs):
    return make_facts(generated_at=epoch_to_iso(t), **knobs)


def snap(t, mounts=None, procs=None, boot=T0 - 10 * DAY, failed=(), memory=30.0):
    return {"v": 1, "time": float(t), "boot_time": float(boot), "memory_percent": memory,
            "swap_percent": 0.0, "load": [0.4, 0.4, 0.4], "mounts": mounts or {},
            "processes": procs or [], "failed_units": list(failed)}


# --------------------------------------------------------------------------- on disk

def test_save_then_load_round_trips_a_compact_snapshot(tmp_path):
    cfg = config_for(tmp_path)
    facts = facts_at(T0, disk_percent={"/": 40.0})
    path = history.save(facts, cfg)
    assert os.path.dirname(path) == str(tmp_path / "history")
    assert os.path.basename(path) == "20261201T060000Z.json"
    assert os.path.getsize(path) < 2048
    [loaded] = history.load(str(tmp_path))
    assert loaded == history.snapshot(facts)
    assert loaded["time"] == T0
    assert loaded["mounts"]["/"][0] == facts["filesystems"][0]["used"]
    assert ["mysqld", "mysql", 900 * MIB] in loaded["processes"]
    assert [n for n in os.listdir(tmp_path / "history")] == ["20261201T060000Z.json"]


def test_two_reports_in_the_same_second_are_both_kept(tmp_path):
    cfg = config_for(tmp_path)
    history.save(facts_at(T0), cfg)
    history.save(facts_at(T0, memory_percent=50.0), cfg)
    assert [s["memory_percent"] for s in history.load(str(tmp_path))] in ([30.0, 50.0], [50.0, 30.0])
    assert len(os.listdir(tmp_path / "history")) == 2


def test_save_prunes_to_history_keep(tmp_path):
    cfg = config_for(tmp_path, history_keep=3)
    for i in range(6):
        history.save(facts_at(T0 + i * DAY), cfg)
    kept = history.load(str(tmp_path))
    assert [s["time"] for s in kept] == [T0 + 3 * DAY, T0 + 4 * DAY, T0 + 5 * DAY]


def test_corrupt_and_foreign_files_are_skipped_with_a_warning(tmp_path, caplog):
    cfg = config_for(tmp_path, history_keep=2)
    history.save(facts_at(T0), cfg)
    directory = tmp_path / "history"
    (directory / "20261130T060000Z.json").write_text("{not json")
    (directory / "20261129T060000Z.json").write_bytes(b"\xff\xfe\x00")
    (directory / "20261128T060000Z.json").write_text(json.dumps({"v": 99, "time": 1}))
    (directory / "20261127T060000Z.json").write_text(json.dumps([1, 2, 3]))
    (directory / "20261126T060000Z.json").write_text(json.dumps(
        {"v": 1, "time": 5.0, "mounts": {"/": "full"}}))
    (directory / "notes.txt").write_text("someone's notes")
    (directory / ".tmp-abc").write_text("half a write")
    with caplog.at_level(logging.WARNING, logger="sysreport.history"):
        loaded = history.load(str(tmp_path))
    assert [s["time"] for s in loaded] == [T0]
    warned = caplog.text
    for name in ("20261130T060000Z.json", "20261129T060000Z.json", "20261128T060000Z.json",
                 "20261127T060000Z.json", "20261126T060000Z.json", "notes.txt"):
        assert name in warned
    assert ".tmp-abc" not in warned
    # Pruning counts only our own names and leaves foreign files alone.
    history.save(facts_at(T0 + DAY), cfg)
    left = sorted(os.listdir(directory))
    assert "notes.txt" in left and "20261201T060000Z.json" in left and "20261202T060000Z.json" in left
    assert "20261126T060000Z.json" not in left


def test_missing_or_unreadable_history_is_empty_not_a_crash(tmp_path):
    assert history.load(str(tmp_path / "nowhere")) == []
    (tmp_path / "history").write_text("a file where the directory should be")
    assert history.load(str(tmp_path)) == []


def test_collect_does_not_write_and_send_does(tmp_path):
    cfg = make_config({"state": {"directory": str(tmp_path)}, "report": {"sections": ["memory"]}})
    doc = report.build(cfg)
    assert not (tmp_path / "history").exists()
    assert doc["trends"]["previous_at"] is None
    report.build(cfg, remember=True)
    assert len(history.load(str(tmp_path))) == 1
    doc = report.build(cfg)
    assert doc["trends"]["reports_kept"] == 1
    assert doc["trends"]["previous_at"] is not None
    assert set(doc) >= {"schema_version", "generated_at", "trends", "status", "problems"}


def test_remember_survives_an_unwritable_state_directory(tmp_path, caplog):
    (tmp_path / "history").write_text("not a directory")
    cfg = make_config({"state": {"directory": str(tmp_path)}, "report": {"sections": ["load"]}})
    with caplog.at_level(logging.WARNING):
        doc = report.build(cfg, remember=True)
    assert doc["load"] is not None
    assert "history not saved" in caplog.text


# --------------------------------------------------------------------------- analysis

def test_first_report_has_no_trends():
    trends = history.analyse(facts_at(T0), [], make_config())
    assert trends == {"previous_at": None, "reports_kept": 0,
                      "changes": {"since_previous": None, "since_week": None},
                      "forecasts": [], "growing_processes": [],
                      "rebooted_since_previous": False, "new_failed_units": []}


def test_changes_since_previous_and_over_a_week():
    fs_now = [filesystem("/", 50.0, total=100 * GIB)]
    past = [snap(T0 - 7 * DAY, mounts={"/": [40 * GIB, 100 * GIB, 60 * GIB]}, memory=20.0),
            snap(T0 - DAY, mounts={"/": [48 * GIB, 100 * GIB, 52 * GIB]}, memory=25.0)]
    trends = history.analyse(facts_at(T0, filesystems=fs_now, memory_percent=30.0), past, make_config())
    prev = trends["changes"]["since_previous"]
    week = trends["changes"]["since_week"]
    assert trends["previous_at"] == epoch_to_iso(T0 - DAY) and trends["reports_kept"] == 2
    assert prev["hours"] == 24.0 and prev["memory_percent"] == 5.0
    assert prev["mounts"]["/"] == {"used": 2 * GIB, "percent": 2.0}
    assert week["at"] == epoch_to_iso(T0 - 7 * DAY) and week["memory_percent"] == 10.0
    assert week["mounts"]["/"] == {"used": 10 * GIB, "percent": 10.0}


def test_no_week_comparison_without_a_report_about_a_week_old():
    past = [snap(T0 - 3 * DAY), snap(T0 - DAY)]
    trends = history.analyse(facts_at(T0), past, make_config())
    assert trends["changes"]["since_week"] is None


def test_forecast_least_squares_on_a_straight_line():
    # 10 GiB used, growing 2 GiB a day for 4 days; 100 GiB disk: 82 GiB free now
    # at 18 GiB used -> 41 days to full.
    total = 100 * GIB
    past = [snap(T0 + i * DAY, mounts={"/srv": [(10 + 2 * i) * GIB, total, total - (10 + 2 * i) * GIB]})
            for i in range(4)]
    fs = [filesystem("/srv", 18.0, total=total)]
    trends = history.analyse(facts_at(T0 + 4 * DAY, filesystems=fs), past, make_config())
    [fc] = trends["forecasts"]
    assert fc["mount"] == "/srv"
    assert fc["bytes_per_day"] == pytest.approx(2 * GIB, rel=1e-3)
    assert fc["days_until_full"] == pytest.approx(41.0, abs=0.1)
    assert fc["near"] is False


def test_forecast_near_when_under_the_warn_threshold():
    total = 100 * GIB
    used = [80, 85, 90]
    past = [snap(T0 + i * DAY, mounts={"/var": [u * GIB, total, total - u * GIB]})
            for i, u in enumerate(used[:2])]
    fs = [filesystem("/var", 90.0, total=total)]
    trends = history.analyse(facts_at(T0 + 2 * DAY, filesystems=fs), past, make_config())
    [fc] = trends["forecasts"]
    assert fc["days_until_full"] == pytest.approx(2.0, abs=0.01)  # 10 GiB free at 5 GiB/day
    assert fc["near"] is True


def test_forecast_needs_three_points_over_a_day_and_growth():
    total = 100 * GIB
    fs = [filesystem("/", 50.0, total=total)]
    pts = lambda ts, us: [snap(t, mounts={"/": [u * GIB, total, total - u * GIB]}) for t, u in zip(ts, us)]
    # two points only
    assert history.analyse(facts_at(T0 + DAY, filesystems=fs), pts([T0], [40]), make_config())["forecasts"] == []
    # three points within an hour
    tr = history.analyse(facts_at(T0 + 3600, filesystems=fs), pts([T0, T0 + 1800], [40, 45]), make_config())
    assert tr["forecasts"] == []
    # shrinking: a forecast with no date
    tr = history.analyse(facts_at(T0 + 2 * DAY, filesystems=fs), pts([T0, T0 + DAY], [60, 55]), make_config())
    assert tr["forecasts"][0]["days_until_full"] is None and tr["forecasts"][0]["near"] is False
    # points older than 14 days are left out of the fit
    old = pts([T0 - 30 * DAY, T0 - 20 * DAY], [10, 20])
    tr = history.analyse(facts_at(T0 + DAY, filesystems=fs), old + pts([T0], [49]), make_config())
    assert tr["forecasts"] == []


def test_growing_processes_need_three_rising_reports_and_a_real_rise():
    def rows(rss_java, rss_small):
        return [["java", "app", rss_java], ["agent", "root", rss_small]]

    past = [snap(T0, procs=rows(400 * MIB, 10 * MIB)),
            snap(T0 + DAY, procs=rows(500 * MIB, 11 * MIB)),
            snap(T0 + 2 * DAY, procs=rows(600 * MIB, 12 * MIB))]
    procs = [process(1, "java", 700 * MIB, "app"), process(2, "agent", 13 * MIB, "root")]
    trends = history.analyse(facts_at(T0 + 3 * DAY, processes=procs), past, make_config())
    assert trends["growing_processes"] == [
        {"name": "java", "user": "app", "rss_first": 400 * MIB, "rss_last": 700 * MIB, "reports": 4}]


def test_a_dip_restarts_the_run():
    past = [snap(T0, procs=[["java", "app", 900 * MIB]]),
            snap(T0 + DAY, procs=[["java", "app", 400 * MIB]]),
            snap(T0 + 2 * DAY, procs=[["java", "app", 500 * MIB]])]
    procs = [process(1, "java", 600 * MIB, "app")]
    trends = history.analyse(facts_at(T0 + 3 * DAY, processes=procs), past, make_config())
    assert trends["growing_processes"][0]["rss_first"] == 400 * MIB
    assert trends["growing_processes"][0]["reports"] == 3
    # two reports of growth are not enough
    trends = history.analyse(facts_at(T0 + 3 * DAY, processes=procs), past[1:2] + past[:1],
                             make_config())
    assert trends["growing_processes"] == []


def test_reboot_and_newly_failed_units():
    boot = T0 - 10 * DAY
    past = [snap(T0 - DAY, boot=boot, failed=["old.service"])]
    facts = facts_at(T0, uptime_seconds=3600, failed_units=["old.service", "nginx.service"])
    trends = history.analyse(facts, past, make_config())
    assert trends["rebooted_since_previous"] is True
    assert trends["new_failed_units"] == ["nginx.service"]
    same_boot = facts_at(T0, uptime_seconds=int(T0 - boot) + 2, failed_units=["old.service"])
    trends = history.analyse(same_boot, past, make_config())
    assert trends["rebooted_since_previous"] is False
    assert trends["new_failed_units"] == []


def test_unknown_units_before_means_none_are_called_new():
    past = [dict(snap(T0 - DAY), failed_units=None)]
    trends = history.analyse(facts_at(T0, failed_units=["nginx.service"]), past, make_config())
    assert trends["new_failed_units"] == []
