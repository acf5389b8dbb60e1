"""The page's edits: the CLI's round trip (comments kept), undone when a file would break,
and a note when the definition is under git (changed in the working tree only)."""

from __future__ import annotations

import subprocess

import pytest

from cli_runner import COMMENT, commented_include
from ferry.spec.loader import load_project
from ferry.web import editing


@pytest.fixture
def include(tmp_path, monkeypatch):
    folder = commented_include(tmp_path)
    monkeypatch.setenv("FERRY_INCLUDE", str(folder))
    return folder


def test_a_file_under_git_gets_a_note_and_one_outside_none(include, tmp_path):
    project = load_project(include)
    edited = editing.detach(project, project.exports["daily_lead_backup"])
    assert edited.git_note == ""

    subprocess.run(["git", "init", "-q", str(include)], check=True)
    project = load_project(include)
    edited = editing.detach(project, project.exports["daily_lead_backup"], undo=True)
    assert "daily_lead_backup.yaml: changed in the git working tree only" in edited.git_note
    assert edited.to_json()["git"] == edited.git_note


def test_duplicate_picks_a_free_id_and_keeps_the_comments(include):
    project = load_project(include)
    first = editing.duplicate(project, project.exports["daily_lead_backup"], None)
    project = load_project(include)
    second = editing.duplicate(project, project.exports["daily_lead_backup"], None)

    assert (first.export_ids, second.export_ids) == (
        ["daily_lead_backup_copy"], ["daily_lead_backup_copy_2"],
    )  # fmt: skip
    assert second.files[0].read_text().startswith(COMMENT)
    assert load_project(include).exports["daily_lead_backup_copy_2"].enabled is False


def test_a_bad_new_id_or_schedule_is_refused_and_nothing_changes(include):
    project = load_project(include)
    export = project.exports["daily_lead_backup"]
    before = sorted(p.name for p in (include / "exports").iterdir())
    with pytest.raises(editing.EditRefused, match="is not an id"):
        editing.duplicate(project, export, "../escape")
    with pytest.raises(editing.EditRefused, match="already exists"):
        editing.duplicate(project, export, "mailchimp_high_value")
    with pytest.raises(editing.EditRefused, match="unknown time zone"):
        editing.schedule(project, [export], override="daily", timezone="Mars/Base", active=True)
    assert sorted(p.name for p in (include / "exports").iterdir()) == before


def test_remove_deletes_only_the_definition(include):
    project = load_project(include)
    edited = editing.remove(project, project.exports["daily_leads_by_source"])

    assert not edited.files[0].exists()
    assert "daily_leads_by_source" not in load_project(include).exports
    assert editing.should_pause(load_project(include), "daily_leads_by_source")
    assert not load_project(include).broken  # nothing used it


def test_an_export_a_group_runs_is_not_removed(include):
    project = load_project(include)
    with pytest.raises(editing.EditRefused, match="member of group nightly_customer_sync"):
        editing.remove(project, project.exports["daily_lead_backup"])
    assert (include / "exports" / "daily_lead_backup.yaml").exists()
