"""current_project(): loaded once, loaded again when a definition file under include/ changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ferry.definitions import current_project
from include_copy import copy_include

NEW_EXPORT = """\
id: fresh_states
name: Fresh states
source: {table: lead}
fields: [lead_id, state]
destinations: [{type: download}]
schedule: "off"
"""


@pytest.fixture
def include(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = copy_include(tmp_path)
    monkeypatch.setenv("FERRY_INCLUDE", str(folder))
    return folder


def newest_stamp(include: Path) -> float:
    return max(p.stat().st_mtime for p in include.rglob("*.y*ml"))


def test_unchanged_files_give_the_same_loaded_project(include):
    first = current_project()
    assert first.root == include
    assert first.exports and first.errors == []
    assert current_project() is first


def test_a_new_definition_is_seen_at_once(include):
    before = current_project()
    assert "fresh_states" not in before.exports
    added = include / "exports" / "fresh_states.yaml"
    added.write_text(NEW_EXPORT)
    later = newest_stamp(include) + 10
    os.utime(added, (later, later))  # a file system's clock may not tick between two writes

    after = current_project()

    assert after is not before
    assert "fresh_states" in after.exports
    assert set(after.exports) == set(before.exports) | {"fresh_states"}


def test_an_edited_definition_is_read_again(include):
    before = current_project()
    assert before.exports["customer_profiles_csv"].name == "Customer profiles (full table)"
    edited = include / "exports" / "customer_profiles_csv.yaml"
    edited.write_text(edited.read_text().replace("(full table)", "(renamed)"))
    later = newest_stamp(include) + 10
    os.utime(edited, (later, later))

    after = current_project()

    assert after.exports["customer_profiles_csv"].name == "Customer profiles (renamed)"
    assert set(after.exports) == set(before.exports)


def test_another_include_folder_is_another_project(include, tmp_path, monkeypatch):
    first = current_project()
    other = copy_include(tmp_path / "other")
    monkeypatch.setenv("FERRY_INCLUDE", str(other))
    assert current_project().root == other
    assert current_project() is not first


def test_a_removed_definition_is_gone_at_once(include):
    """Removing a file that is not the newest leaves the newest time as it was: the
    stamp must still change (the Exports page's Remove, `ferry remove`, git checkout)."""
    newest = newest_stamp(include) + 10
    os.utime(include / "exports" / "customer_profiles_csv.yaml", (newest, newest))
    before = current_project()
    assert "daily_leads_by_source" in before.exports

    (include / "exports" / "daily_leads_by_source.yaml").unlink()

    assert "daily_leads_by_source" not in current_project().exports
