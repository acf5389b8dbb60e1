"""The drop folder's root and its errors' kinds."""

from __future__ import annotations

from pathlib import Path

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
