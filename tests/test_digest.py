"""The fleet digest: ordering, counts, unreachable hosts, escaping, size cap, and the real
`sysreport digest` command (files, dry run, one delivery to a loopback SMTP server,
the outbox when the server is down)."""

from __future__ import annotations

import email
import email.policy
import json
import random

import pytest

from sample_reports import make_report, unreachable
from smtp_server import free_port
from sysreport import digest
from sysreport.render import digest_html, digest_text



def fleet(**hosts):
    return {"schema_version": 1, "hosts": hosts}


def failed(message="Failed to import the required Python library (psutil)"):
    return {"failed": True, "message": message}


@pytest.fixture(scope="module")
def mixed():
    return fleet(**{
        "web10": make_report("web10", "OK"),
        "web2": make_report("web2", "OK"),
        "app1": make_report("app1", "WARN"),
        "db1": make_report("db1", "CRIT"),
        "db2": make_report("db2", "CRIT", disk_percent={"/": 97.0, "/var": 96.0}),  # 3 problems
        "gone": unreachable("Failed to connect to the host via ssh: No route to host"),
        "bare": failed(),
    })


# --------------------------------------------------------------------------- the model

def test_hosts_are_ordered_worst_first_unreachable_at_the_top(mixed):
    d = digest.build(mixed)
    assert [r["name"] for r in d["rows"]] == \
        ["gone", "bare", "db2", "db1", "app1", "web2", "web10"]
    assert [r["status"] for r in d["rows"]] == \
        ["UNREACHABLE", "FAILED", "CRIT", "CRIT", "WARN", "OK", "OK"]


def test_counts_summary_and_subject(mixed):
    d = digest.build(mixed)
    assert d["counts"] == {"UNREACHABLE": 1, "FAILED": 1, "CRIT": 2, "WARN": 1,
                           "UNKNOWN": 0, "OK": 2}
    assert d["total"] == 7
    assert d["worst"] == "UNREACHABLE"
    assert d["summary"] == "1 UNREACHABLE, 1 FAILED, 2 CRIT, 1 WARN, 2 OK"
    assert digest.subject(d, "[sysreport]") == \
        "[sysreport] fleet digest: 1 UNREACHABLE, 1 FAILED, 2 CRIT, 1 WARN, 2 OK (7 hosts)"


def test_an_all_ok_fleet():
    d = digest.build(fleet(a=make_report("a", "OK")))
    assert d["worst"] == "OK"
    assert digest.subject(d) == "[sysreport] fleet digest: 1 OK (1 host)"


@pytest.mark.parametrize("entry, status, says", [
    (unreachable("timed out"), "UNREACHABLE", "timed out"),
    (failed("no psutil"), "FAILED", "no psutil"),
    ({"something": 1}, "FAILED", "not a report document"),
    ("a string", "FAILED", "not a report document"),
    (dict(make_report("odd"), status="PURPLE"), "UNKNOWN", None),
])
def test_every_entry_gets_a_status(entry, status, says):
    row = digest.host_row("h", entry)
    assert row["status"] == status
    if says:
        assert says in row["message"]


def _spoiled(change):
    report = make_report("odd", "WARN")
    change(report)
    return report


@pytest.mark.parametrize("report, says", [
    (_spoiled(lambda r: r["load"].update(per_core15="high")), "load.per_core15 is 'high', not a number"),
    (_spoiled(lambda r: r["memory"].update(percent="90%")), "memory.percent is '90%', not a number"),
    (_spoiled(lambda r: r["host"].update(uptime_seconds=True)), "host.uptime_seconds is True"),
    (_spoiled(lambda r: r.update(filesystems=["x"])), "filesystems is not a list of objects"),
    (_spoiled(lambda r: r.update(processes=[1, 2])), "processes is list, not an object"),
    (_spoiled(lambda r: r.update(unavailable=["cpu"])), "unavailable is list, not an object"),
    (_spoiled(lambda r: r.update(problems="disk full")), "problems is not a list of objects"),
])
def test_a_malformed_report_is_listed_as_failed_and_the_digest_still_renders(report, says):
    """One host's odd document (an old or broken agent) must not cost the fleet its email."""
    data = fleet(odd=report, fine=make_report("fine", "OK"))
    row = digest.host_row("odd", report)
    assert row["status"] == "FAILED" and says in row["message"], row["message"]
    d = digest.build(data)
    assert [r["status"] for r in d["rows"]] == ["FAILED", "OK"]
    assert says in digest_text.render(d)
    assert "fine" in digest_html.render(d)


@pytest.mark.parametrize("data, says", [
    ([], "must be a JSON object"),
    ({"schema_version": 2, "hosts": {}}, "schema_version is 2"),
    ({"schema_version": 1, "hosts": []}, '"hosts" must be an object'),
])
def test_bad_input_is_refused_with_what_to_fix(data, says):
    with pytest.raises(digest.DigestInputError, match=says):
        digest.check(data)


# --------------------------------------------------------------------------- renderers

def test_text_lists_every_host_in_order_and_the_unreachable_one_by_name(mixed):
    text = digest_text.render(digest.build(mixed))
    lines = text.splitlines()
    assert lines[1] == "1 UNREACHABLE, 1 FAILED, 2 CRIT, 1 WARN, 2 OK"
    assert lines[2] == "Did not answer: gone"
    table = lines[lines.index("") + 1:]
    assert table[0].startswith("HOST")
    assert [row.split()[0] for row in table[1:8]] == \
        ["gone", "bare", "db2", "db1", "app1", "web2", "web10"]
    assert "did not answer: Failed to connect to the host via ssh" in table[1]
    assert "module failed: Failed to import" in table[2]
    assert "== db2 (db2): CRIT ==" not in text  # same name: not repeated
    assert "== db2: CRIT ==" in text
    assert "  CRIT  / 97% full" in text
    assert all(line == line.rstrip() for line in lines)


def test_html_lists_every_host_in_order_with_the_unreachable_box(mixed):
    page = digest_html.render(digest.build(mixed))
    positions = [page.index(f'href="#host-{i}"') for i in range(7)]
    assert positions == sorted(positions)
    names = ["gone", "bare", "db2", "db1", "app1", "web2", "web10"]
    rows = [page.index(f'">{n}</a>') for n in names]
    assert rows == sorted(rows)
    assert "<strong>Did not answer:</strong> gone</div>" in page
    assert '<h3 id="host-0"' in page and '<h3 id="host-6"' in page


def test_host_values_are_escaped_in_html_and_visible_in_text():
    evil = "<script>alert(1)</script>\nBcc: x@example.org"
    d = digest.build(fleet(**{evil: unreachable("<b>down</b>\r\n")}))
    page = digest_html.render(d)
    assert "<script>" not in page and "<b>down</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\nBcc: x@example.org" in page
    assert "&lt;b&gt;down&lt;/b&gt;\\r\\n" in page
    text = digest_text.render(d)
    assert "\nBcc:" not in text
    assert "<script>alert(1)</script>\\nBcc" in text


def test_a_big_fleet_gets_rows_and_details_for_problem_hosts_only():
    hosts = {f"ok{i}": make_report(f"ok{i}", "OK") for i in range(digest.DETAILS_FOR_ALL_UP_TO)}
    hosts["bad"] = make_report("bad", "CRIT")
    hosts["lost"] = unreachable()
    d = digest.build(fleet(**hosts))
    assert [r["name"] for r in d["listed"]] == ["lost", "bad"]
    assert [r["name"] for r in d["detailed"]] == ["lost", "bad"]
    assert len(d["folded"]) == digest.DETAILS_FOR_ALL_UP_TO
    assert d["folded"][:3] == ["ok0", "ok1", "ok2"]
    assert "only named" in d["details_note"]
    text = digest_text.render(d)
    assert d["details_note"] in text.replace("\n", " ") or d["details_note"] in text
    assert "OK (50): ok0, ok1, ok2" in text
    assert "ok49" in text                          # every host is still named
    assert "== ok0" not in text                    # but gets no details
    page = digest_html.render(d)
    assert "<strong>OK (50):</strong> ok0, ok1" in page
    assert "ok49" in page


def test_details_stop_at_the_cap_and_say_so():
    n = digest.DETAILS_MAX + 7
    d = digest.build(fleet(**{f"w{i}": make_report(f"w{i}", "WARN") for i in range(n)}))
    assert len(d["listed"]) == n
    assert len(d["detailed"]) == digest.DETAILS_MAX
    assert "the 7 hosts after them are in the table without details" in d["details_note"]


def test_a_thousand_hosts_render_to_a_bounded_message():
    rng = random.Random(4)
    hosts = {}
    for i in range(1000):
        if i % 100 == 0:
            hosts[f"h{i}"] = unreachable()
        else:
            hosts[f"h{i}"] = make_report(f"h{i}", rng.choice(["OK"] * 8 + ["WARN", "CRIT"]))
    data = fleet(**hosts)
    d = digest.build(data)
    text, page = digest_text.render(d), digest_html.render(d)
    assert d["total"] == 1000 and sum(d["counts"].values()) == 1000
    assert len(d["listed"]) + len(d["unlisted"]) + len(d["folded"]) == 1000   # each once
    assert len(d["detailed"]) == digest.DETAILS_MAX
    for name in ("h0", "h1", "h999"):
        assert name in text and name in page
    # A thousand full host sections would be megabytes; the cap keeps it well under.
    assert len(page) < 400_000 and len(text) < 100_000


def test_a_thousand_crit_hosts_stop_the_table_and_name_the_rest():
    """A fleet-wide incident: the worst TABLE_MAX hosts get rows, every other one is still
    named with its status, and the email stays a few hundred kB, not a megabyte."""
    hosts = {f"c{i}": make_report(f"c{i}", "CRIT") for i in range(1000)}
    hosts["gone"] = unreachable()
    d = digest.build(fleet(**hosts))
    assert len(d["listed"]) == digest.TABLE_MAX and d["listed"][0]["name"] == "gone"
    assert len(d["unlisted"]) == 1001 - digest.TABLE_MAX
    assert d["unlisted"][0] == ("c199", "CRIT") and d["unlisted"][-1] == ("c999", "CRIT")
    text, page = digest_text.render(d), digest_html.render(d)
    assert "Also not OK, past the table (801): c199 CRIT, c200 CRIT" in " ".join(text.split())
    assert "c999 CRIT" in page
    assert len(page) < 300_000 and len(text) < 100_000


# --------------------------------------------------------------------------- the command

@pytest.fixture
def input_file(tmp_path, mixed):
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(mixed))
    return path


# write_config, run, smtp_server, outbox_files: tests/conftest.py (run() also asserts that
# the SMTP password appears in no output)

def test_output_writes_the_html_and_the_whole_message(tmp_path, input_file, write_config, run,
                                                     outbox_files):
    out = tmp_path / "out"
    done = run("digest", "--input", str(input_file), "--output", str(out), config=write_config())
    assert done.returncode == 0, done.stderr
    page = (out / "digest.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "Fleet digest: 7 hosts" in page
    msg = email.message_from_bytes((out / "digest.eml").read_bytes(), policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    # strip(): Python's folding may start a long Subject on the next line, and its
    # parser then keeps the fold's space
    assert msg["Subject"].strip() == "[test] fleet digest: 1 UNREACHABLE, 1 FAILED, 2 CRIT, " \
                                     "1 WARN, 2 OK (7 hosts)"
    assert msg["To"] == "ops@example.com, oncall@example.com"
    assert msg["X-Sysreport-Status"] == "CRIT"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_body(("plain",)).get_content().startswith("Fleet digest of ")
    assert outbox_files() == []


def test_dry_run_prints_the_text_digest_and_sends_nothing(input_file, write_config, run,
                                                          outbox_files):
    done = run("digest", "--input", str(input_file), "--dry-run", config=write_config())
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == "1 UNREACHABLE, 1 FAILED, 2 CRIT, 1 WARN, 2 OK"
    assert "Did not answer: gone" in done.stdout
    assert outbox_files() == []


def test_a_bad_input_file_is_a_configuration_error(tmp_path, write_config, run):
    bad = tmp_path / "fleet.json"
    bad.write_text("{not json")
    done = run("digest", "--input", str(bad), "--dry-run", config=write_config())
    assert done.returncode == 78
    assert "not valid JSON" in done.stderr


def test_the_digest_is_delivered_once(input_file, smtp_server, write_config, run, outbox_files):
    server = smtp_server()
    done = run("digest", "--input", str(input_file), "--to", "noc@example.org",
               config=write_config(server))
    assert done.returncode == 0, done.stderr
    assert len(server.messages) == 1
    got = server.messages[0]
    assert got.rcpt_tos == ["noc@example.org"]
    assert got.message["Subject"].strip().startswith("[test] fleet digest: 1 UNREACHABLE")
    assert "Did not answer: gone" in got.message.get_body(("plain",)).get_content()
    assert outbox_files() == []


def test_when_the_server_is_down_the_digest_waits_in_the_outbox(input_file, smtp_server,
                                                                write_config, run,
                                                                outbox_files):
    port = free_port()
    done = run("digest", "--input", str(input_file),
               config=write_config(None, **{"smtp.port": port}))    # nothing listens yet
    assert done.returncode == 75, done.stderr
    assert len(outbox_files()) == 1
    server = smtp_server(port=port)
    flushed = run("flush", config=write_config(server))        # now with the server's CA
    assert flushed.returncode == 0, flushed.stderr
    assert len(server.messages) == 1
    assert "fleet digest" in server.messages[0].message["Subject"]
    assert outbox_files() == []
