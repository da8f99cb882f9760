"""sysreport.atomic: the one way the agent writes its state files."""

import os
import stat

import pytest

from sysreport.atomic import TEMP_PREFIX, write_atomic


def test_the_file_appears_whole_with_the_mode_asked_for(tmp_path):
    path = write_atomic(str(tmp_path), "last-status.json", b'{"status": "OK"}\n', mode=0o644)
    assert path == str(tmp_path / "last-status.json")
    assert (tmp_path / "last-status.json").read_bytes() == b'{"status": "OK"}\n'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert not [n for n in os.listdir(tmp_path) if n.startswith(TEMP_PREFIX)]


def test_a_rewrite_replaces_the_old_content(tmp_path):
    write_atomic(str(tmp_path), "f", b"old")
    write_atomic(str(tmp_path), "f", b"new")
    assert (tmp_path / "f").read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["f"]


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    (tmp_path / "target.json").mkdir()  # rename onto a directory fails
    with pytest.raises(OSError):
        write_atomic(str(tmp_path), "target.json", b"{}")
    assert sorted(os.listdir(tmp_path)) == ["target.json"]
