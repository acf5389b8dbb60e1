"""Refresh markers: held while a refresh rewrites a table or segment, ignored once stale.

The system refresh that takes them (the demo's) is tested in tests/integration/test_refresh.py.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ferry import refresh


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FERRY_HOME", str(tmp_path))
    return tmp_path


def test_markers_live_in_ferry_home(home):
    assert refresh.marker_dir() == home / "refresh"


def test_a_held_name_is_in_progress_until_released(home):
    refresh.hold(["lead", "vip"], holder="ferry_refresh manual__1")

    assert refresh.refreshes_in_progress(["lead", "contact", "vip"]) == ["lead", "vip"]
    assert (home / "refresh" / "lead.running").read_text() == "ferry_refresh manual__1"
    refresh.release(["lead"])
    assert refresh.refreshes_in_progress(["lead", "contact", "vip"]) == ["vip"]
    refresh.release(["vip", "never_held"])  # releasing twice or what was never held is fine
    assert refresh.refreshes_in_progress(["lead", "vip"]) == []


def test_a_marker_without_a_holder_names_the_process(home):
    refresh.hold(["lead"])
    assert (home / "refresh" / "lead.running").read_text() == f"pid {os.getpid()}"
    assert [p.name for p in (home / "refresh").iterdir()] == ["lead.running"]  # no temp left


def test_a_stale_marker_no_longer_blocks(home):
    refresh.hold(["lead", "contact"])
    stale = time.time() - refresh.STALE_AFTER.total_seconds() - 60
    os.utime(home / "refresh" / "lead.running", (stale, stale))

    assert refresh.refreshes_in_progress(["lead", "contact"]) == ["contact"]


def test_a_given_folder_is_read_instead_of_ferry_home(home, tmp_path, monkeypatch):
    refresh.hold(["lead"])
    seen_by_the_task = refresh.marker_dir()
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "elsewhere"))  # e.g. the triggerer

    assert refresh.refreshes_in_progress(["lead"]) == []
    assert refresh.refreshes_in_progress(["lead"], folder=seen_by_the_task) == ["lead"]
    assert refresh.refreshes_in_progress(["lead"], folder=str(seen_by_the_task)) == ["lead"]


def test_refreshing_releases_its_markers_even_when_the_block_fails():
    with refresh.refreshing(["lead"], holder="test"):
        assert refresh.refreshes_in_progress(["lead"]) == ["lead"]
    assert refresh.refreshes_in_progress(["lead"]) == []

    with pytest.raises(RuntimeError), refresh.refreshing(["lead"]):
        raise RuntimeError("the refresh broke")
    assert refresh.refreshes_in_progress(["lead"]) == []
