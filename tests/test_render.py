"""Text, HTML and JSON renderings: content, layout, and that no host value can break them.

Property tests feed arbitrary strings (any unicode, control characters, lone
surrogates from undecodable bytes, <script>, CRLF) as a process name, a host name and
a mount point, and check the structure of the output against a harmless baseline.
"""

from __future__ import annotations

import copy
import json
import unicodedata
from html.parser import HTMLParser
from typing import List, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sample_reports import empty_trends, filesystem, finish, make_facts, make_report, process
from sysreport.render import html as render_html
from sysreport.render import json as render_json
from sysreport.render import text as render_text
from sysreport.render import visible

NASTY = ["<script>alert(1)</script>", "<b>x</b>", "a\r\nBcc: evil@example.com", "x\ny",
         "\x00\x1b[31mred", "\u2028\u2029\x85", "\u202eevil", "\udcff\udc80", "&amp;&lt;",
         '"><img src=x onerror=alert(1)>', "\t", " ", ""]
# Lone surrogates as psutil hands them over: os.fsdecode's surrogateescape turns each
# undecodable byte into U+DC80..U+DCFF. High surrogates never come from there, and a
# high + low pair would be joined into one character by any JSON reader.
host_values = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=st.one_of(st.characters(), st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF),
                               st.sampled_from("\n\r\x0b\x0c\x1c\x85\u2028<>&\"'")), max_size=40))
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def doc_with(where: str, value: str) -> dict:
    """A CRIT report with `value` as the process name, host name or a mount point."""
    if where == "process":
        procs = [process(4242, value, 3 * 1024 ** 3, "app", 50.0, cmdline="/opt/app --run " + value),
                 process(812, "mysqld", 900 * 1024 ** 2, "mysql")]
        facts = make_facts(processes=procs, disk_percent={"/": 97.0})
    elif where == "host":
        facts = make_facts(value, disk_percent={"/": 97.0})
    else:
        facts = make_facts(filesystems=[filesystem("/", 97.0), filesystem(value, 50.0, device="/dev/sdz9")])
    facts["users"][0]["host"] = value
    trends = empty_trends("2026-12-02T13:00:00+00:00")
    trends["new_failed_units"] = [value]
    trends["growing_processes"] = [{"name": value, "user": "app", "rss_first": 1, "rss_last": 2 ** 30,
                                    "reports": 3}]
    return finish(facts, trends)


def placeholder(value: str) -> str:
    # Same visible length, nothing special: the layout of the baseline must be the same.
    return "\ue000" * len(visible(value))


# --------------------------------------------------------------------------- text

def test_visible_escapes_what_could_break_a_line():
    assert visible("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert visible("\x00\x1b\x7f\x85") == "\\0\\e\\x7f\\x85"
    assert visible("\u2028\u202e") == "\\u2028\\u202e"
    assert visible("\udcff") == "\\udcff"
    assert visible("héllo ✓ 日本") == "héllo ✓ 日本"
    assert visible(None) == ""


def assert_clean_lines(out: str) -> None:
    assert out.endswith("\n")
    for ch in set(out):
        if ch != "\n":
            assert unicodedata.category(ch) not in ("Cc", "Zl", "Zp", "Cs"), repr(ch)


@SETTINGS
@given(where=st.sampled_from(["process", "host", "mount"]), value=host_values)
def test_text_line_structure_survives_any_host_value(where, value):
    out = render_text.render(doc_with(where, value))
    base = render_text.render(doc_with(where, placeholder(value)))
    assert_clean_lines(out)
    assert len(out.splitlines()) == len(base.splitlines())
    assert out.count("\n") == base.count("\n")
    if where == "host":
        assert out.splitlines()[0].startswith((visible(value) or "unknown host") + ": CRIT (")


def test_text_layout_status_first_then_problems_trends_details():
    doc = make_report("web-01", status="CRIT", memory_percent=88.0)
    out = render_text.render(doc)
    lines = out.splitlines()
    assert lines[0] == "web-01: CRIT (3 problems)"
    assert lines[1] == "Report of 2026-12-03 13:00 UTC, sysreport 0.1.0"
    order = [out.index(h) for h in ("\nPROBLEMS\n", "\nTRENDS\n", "\nHOST\n", "\nFILESYSTEMS\n",
                                    "\nPROCESSES\n", "\nSYSTEMD\n")]
    assert order == sorted(order)
    assert "  CRIT  / 97% full" in lines and "  CRIT  2 failed units" in lines
    assert "  WARN  memory 88%" in lines
    assert max(len(line) for line in lines) <= 80
    assert "  temperatures: not available: no sensors reported" in lines
    assert "nginx.service (failed/failed)" in out


def test_text_fits_80_columns_with_long_values():
    procs = [process(4194304, "n" * 200, 8 * 1024 ** 3, "u" * 50, 1600.0, cmdline="c " * 200)]
    doc = finish(make_facts(processes=procs, filesystems=[filesystem("/" + "m" * 100, 50.0)]))
    lines = render_text.render(doc).splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)


def test_text_shows_trends():
    trends = empty_trends("2026-12-02T13:00:04+00:00")
    trends.update(reports_kept=5, rebooted_since_previous=True, new_failed_units=["nginx.service"])
    trends["changes"]["since_previous"] = {
        "at": "2026-12-02T13:00:04+00:00", "hours": 24.0, "memory_percent": 3.1,
        "swap_percent": 0.0, "load1": 0.1, "load5": 0.0, "load15": -0.05,
        "mounts": {"/var": {"used": 2 * 1024 ** 3, "percent": 2.0}}}
    trends["forecasts"] = [{"mount": "/var", "days_until_full": 2.4, "bytes_per_day": 5 * 1024 ** 3,
                            "near": True}]
    out = render_text.render(finish(make_facts(), trends))
    assert "5 earlier reports kept, the previous of 2026-12-02 13:00 UTC." in out
    assert "Rebooted since the previous report." in out
    assert "Newly failed units: nginx.service" in out
    assert "memory +3.1 pts, swap +0.0 pts, load15 -0.05" in out
    assert "+2.0 GiB (+2.0 pts)" in out
    assert "~2 days" in out and "+5.0 GiB/day  NEAR" in out


def test_sections_left_out_by_config_are_not_shown():
    facts = make_facts()
    for section in ("network", "users", "temperatures"):
        facts[section] = None
        facts["unavailable"].pop(section, None)
    out = render_text.render(finish(facts))
    assert "NETWORK" not in out and "USERS" not in out and "TEMPERATURES" not in out
    facts["unavailable"]["network"] = "not available: permission denied"
    out = render_text.render(finish(facts))
    assert "NETWORK\n  network: not available: permission denied\n" in out


def test_a_container_hosts_veth_interfaces_are_one_line_in_the_email_and_each_in_json():
    facts = make_facts()
    veths = [{"interface": "veth%04x" % i, "bytes_sent": 1024 ** 2, "bytes_recv": 2 * 1024 ** 2,
              "packets_sent": 10, "packets_recv": 20, "errin": 0, "errout": 1, "dropin": 2,
              "dropout": 0} for i in range(40)]
    facts["network"] = facts["network"] + veths
    doc = finish(facts)
    text = render_text.render(doc)
    assert "veth0001" not in text
    line = next(l for l in text.splitlines() if "veth* (40)" in l)
    assert line.split()[2:] == ["40.0", "MiB", "80.0", "MiB", "0/40", "80/0"], line
    assert "eth0" in text
    html = render_html.render(doc)
    assert "veth0001" not in html and "veth* (40)" in html
    assert len(json.loads(render_json.render(doc))["network"]) == 41


# --------------------------------------------------------------------------- html

class Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: List[Tuple[str, tuple]] = []
        self.text: List[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(("start", tag, tuple(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append(("startend", tag, tuple(attrs)))

    def handle_endtag(self, tag):
        self.tags.append(("end", tag, ()))

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.tags.append(("comment", data, ()))

    def handle_pi(self, data):
        self.tags.append(("pi", data, ()))

    def unknown_decl(self, data):
        self.tags.append(("decl", data, ()))


def parse(html: str) -> Structure:
    parser = Structure()
    parser.feed(html)
    parser.close()
    return parser


@SETTINGS
@given(where=st.sampled_from(["process", "host", "mount"]), value=host_values)
def test_html_shows_any_host_value_only_escaped(where, value):
    out = render_html.render(doc_with(where, value))
    base = render_html.render(doc_with(where, placeholder(value)))
    got, expected = parse(out), parse(base)
    assert got.tags == expected.tags  # no injected tag, attribute or comment
    assert visible(value) in "".join(got.text)
    out.encode("utf-8")  # no lone surrogate left


def test_html_is_phone_sized_with_inline_styles_and_worded_badges():
    doc = make_report("web-01", status="CRIT")
    out = render_html.render(doc)
    tree = parse(out)
    names = {t[1] for t in tree.tags}
    assert "style" not in names and "script" not in names and "link" not in names
    assert "max-width:640px" in out
    text = "".join(tree.text)
    assert "CRIT" in text and "/ 97% full" in text and "2 failed units" in text
    # A badge carries its word, not only its colour.
    assert 'background:#c62828;color:#ffffff;font-weight:700;font-size:12px;letter-spacing:0.5px;">CRIT</span>' in out


def test_html_usage_bar_width_follows_the_percentage():
    doc = finish(make_facts(filesystems=[filesystem("/", 97.0), filesystem("/srv", 42.0),
                                         filesystem("/empty", 0.0), filesystem("/full", 100.0)]))
    out = render_html.render(doc)
    assert "width:97%;background:#c62828" in out
    assert "width:42%;background:#2e7d32" in out
    assert "width:100%;background:#c62828" in out
    bar_empty = render_html.bar(0.0, "OK")
    assert "width:0%" not in bar_empty and bar_empty.count("<td") == 1


# --------------------------------------------------------------------------- json

def test_json_is_the_document_with_schema_version_first():
    doc = make_report(status="WARN")
    out = render_json.render(doc)
    assert out.endswith("\n")
    assert json.loads(out) == doc
    assert out.startswith('{\n  "schema_version": 1,')
    without = copy.deepcopy(doc)
    del without["schema_version"]
    assert json.loads(render_json.render(without))["schema_version"] == 1


@SETTINGS
@given(value=host_values)
def test_json_round_trips_any_host_value_in_ascii(value):
    doc = doc_with("process", value)
    out = render_json.render(doc)
    assert out.isascii()
    assert json.loads(out)["processes"]["by_memory"][0]["name"] == value


def test_html_bars_take_their_colour_from_the_verdict_with_overrides():
    from sample_reports import make_config
    cfg = make_config({"thresholds": {"mounts": {"/srv": {"disk_percent": {"warn": 90, "crit": 95}}}}})
    doc = finish(make_facts(filesystems=[filesystem("/", 85.0), filesystem("/srv", 86.0)]), config=cfg)
    out = render_html.render(doc)
    assert "width:85%;background:#b26a00" in out   # / is WARN at 85%
    assert "width:86%;background:#2e7d32" in out   # /srv's own limit is 90%
