"""The drop folder's root and its errors' kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.exceptions import kind_of
from ferry.imports import places


def test_the_drop_root_is_ferry_drop_else_under_ferry_home(tmp_path, monkeypatch):
    monkeypatch.delenv("FERRY_DROP", raising=False)
    monkeypatch.setenv("FERRY_HOME", str(tmp_path))
    assert places.drop_root() == tmp_path / "drop"
    monkeypatch.setenv("FERRY_DROP", str(tmp_path / "elsewhere"))
    assert places.drop_root() == Path(tmp_path / "elsewhere")


def test_each_error_says_whether_another_try_can_help():
    assert kind_of(places.FilesRefused("x")) == "terminal"
    assert kind_of(places.NoFiles("x")) == "terminal"
    assert kind_of(places.FilesUnreachable("x")) == "transient"
    assert kind_of(places.FileNotWhole("x")) == "transient"  # still being written: retried
    assert kind_of(places.FileChanged("x")) == "terminal"


def test_unchanged_compares_size_and_modified_time_to_the_second_where_asked():
    listed = places.RemoteFile("a.csv", "in/a.csv", 10, 1_700_000_000.0)
    places.unchanged(listed, 10, 1_700_000_000.0, whole_seconds=False)
    places.unchanged(listed, 10, 1_700_000_000.9, whole_seconds=True)  # S3 HEAD vs listing
    for size, modified in [(11, 1_700_000_000.0), (10, 1_700_000_000.5)]:
        with pytest.raises(places.FileChanged, match=r"in/a\.csv changed since it was loaded"):
            places.unchanged(listed, size, modified, whole_seconds=False)
