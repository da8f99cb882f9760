"""The email: structure, headers, and that no host value can add or break a header.

Messages are parsed back from their bytes with email.parser, as a mail server would.
"""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sample_reports import make_config, make_report, process, make_facts, finish
from sysreport.render import html as render_html
from sysreport.render import message
from sysreport.render import text as render_text
from test_render import host_values

CONFIG = make_config({"mail": {"to": ["ops@example.com", "oncall@example.com"],
                               "from": "sysreport@example.com"},
                      "smtp": {"username": "robot@example.com"}})
HEADERS = ["Subject", "From", "To", "Date", "Message-ID", "X-Sysreport-Status",
           "X-Sysreport-Host", "Auto-Submitted", "MIME-Version", "Content-Type"]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parsed(msg):
    return BytesParser(policy=policy.default).parsebytes(msg.as_bytes())


def test_multipart_alternative_with_the_real_text_report_first():
    doc = make_report("web-01", status="CRIT")
    got = parsed(message.build(doc, CONFIG))
    assert got.get_content_type() == "multipart/alternative"
    plain, html = list(got.iter_parts())
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert plain.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    assert plain.get_content() == render_text.render(doc)
    assert html.get_content() == render_html.render(doc)


def test_headers():
    doc = make_report("web-01", status="CRIT")
    got = parsed(message.build(doc, CONFIG))
    assert list(got.keys()) == HEADERS
    assert got["Subject"] == "[sysreport] web-01 CRIT: / 97% full, 2 failed units"
    assert got["From"] == "sysreport@example.com"
    assert got["To"] == "ops@example.com, oncall@example.com"
    assert got["Date"] == "Thu, 03 Dec 2026 13:00:04 +0000"
    assert got["X-Sysreport-Status"] == "CRIT"
    assert got["X-Sysreport-Host"] == "web-01"
    assert got["Auto-Submitted"] == "auto-generated"


def test_ok_subject_to_override_and_from_falls_back_to_the_smtp_username():
    cfg = make_config({"mail": {"to": ["ops@example.com"]}, "smtp": {"username": "robot@example.com"}})
    got = parsed(message.build(make_report("db-2", status="OK"), cfg, to=["me@example.org"]))
    assert got["Subject"] == "[sysreport] db-2 OK"
    assert got["From"] == "robot@example.com"
    assert got["To"] == "me@example.org"
    prefixed = make_config({"mail": {"subject_prefix": "[prod]"}})
    assert parsed(message.build(make_report("db-2", status="WARN"), prefixed))["Subject"] == \
        "[prod] db-2 WARN: memory 88%"


def test_message_id_is_stable_for_a_retry_and_differs_per_report():
    doc = make_report("web-01", status="CRIT")
    first = message.build(doc, CONFIG)["Message-ID"]
    assert message.build(doc, CONFIG)["Message-ID"] == first
    assert first.startswith("<sysreport.") and first.endswith("@web-01>")
    later = make_report("web-01", status="CRIT", generated_at="2026-12-04T13:00:04+00:00")
    other = make_report("web-02", status="CRIT")
    assert message.build(later, CONFIG)["Message-ID"] != first
    assert message.build(other, CONFIG)["Message-ID"] != first
    # the timer and a manual run within one second: same time, different reports
    same_second = make_report("web-01", status="WARN")
    assert same_second["generated_at"] == doc["generated_at"]
    assert message.build(same_second, CONFIG)["Message-ID"] != first


def test_subject_is_capped():
    doc = make_report("web-01", disk_percent={f"/data/volume{i:02d}": 97.0 for i in range(30)})
    subject = parsed(message.build(doc, CONFIG))["Subject"]
    assert len(subject) <= message.SUBJECT_MAX
    assert subject.startswith("[sysreport] web-01 CRIT: /data/volume00 97% full, ")
    assert subject.endswith("…")


@pytest.mark.parametrize("value, expected", [("a\r\nBcc: x@example.com", "a Bcc: x@example.com"),
                                             ("\x00tab\there\x1b", "tab here"),
                                             ("line\u2028sep", "line sep"), ("  x  ", "x")])
def test_header_value_strips_line_breaks_and_controls(value, expected):
    assert message.header_value(value) == expected


@SETTINGS
@given(where=st.sampled_from(["host", "process", "mount"]), value=host_values)
@example(where="host", value="000000000000\u00a1\u00a1\u00a1\U00010000\U00010000\U00010000\U00010000 \u00a1")
def test_no_host_value_can_add_or_break_a_header(where, value):
    if where == "host":
        doc = make_report(value, disk_percent={"/": 97.0})
    elif where == "process":
        doc = finish(make_facts(processes=[process(1, value, 2 ** 30)], disk_percent={value: 97.0}))
    else:
        doc = make_report(disk_percent={value or "/x": 97.0, "/": 10.0})
    raw = message.build(doc, CONFIG).as_bytes()
    got = BytesParser(policy=policy.default).parsebytes(raw)
    assert list(got.keys()) == HEADERS
    assert not got.defects
    for name in HEADERS:
        assert "\n" not in str(got[name]) and "\r" not in str(got[name])
    assert got["X-Sysreport-Status"] == "CRIT"
    assert got["Subject"] == message.subject(doc)
    assert got["To"] == "ops@example.com, oncall@example.com"
    if where == "host":
        assert got["X-Sysreport-Host"] == message.header_value(value or "unknown host")
    plain, html = list(got.iter_parts())
    assert plain.get_content() == render_text.render(doc)
