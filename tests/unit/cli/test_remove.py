"""`ferry remove EXPORT`: the definition file goes, its past runs stay; refused while a
group runs the export or another export depends on it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess

import pytest

from cli_runner import run_ferry
from ferry import history
from ferry.run_info import RunInfo
from ferry.spec.loader import load_project
from include_copy import copy_include

LONE = "linkedin_enterprise_accounts"  # in no group, nothing depends on it


@pytest.fixture
def include(tmp_path, monkeypatch):
    include = copy_include(tmp_path)
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    return include


def past_run(export_id: str) -> history.RunRecord:
    now = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
    run = RunInfo(export_id, "scheduled__2026-11-30", triggered_by="ana")
    done = history.RunRecord.ended(run, "success", "", started_at=now, finished_at=now)
    history.record_run(dataclasses.replace(done, rows=12))
    return done


def test_remove_deletes_the_definition_and_keeps_its_runs(include):
    past = past_run(LONE)

    result = run_ferry("remove", LONE, "--yes")

    assert result.code == 0, result.err
    assert not (include / "exports" / f"{LONE}.yaml").exists()
    assert LONE not in load_project(include).exports
    assert history.get_run(past.job_run_id).rows == 12
    assert f"its 1 past runs stay in the run history: ferry history {LONE}" in result.out
    assert "git" not in result.out  # not under version control here


def test_a_member_of_a_group_is_refused_naming_the_group(include):
    result = run_ferry("remove", "customer_profiles_csv", "--yes")

    assert result.code == 1
    assert (
        "export 'customer_profiles_csv' is still used: group 'nightly_customer_sync' "
        "(include/groups/nightly_customer_sync.yaml) runs it" in result.err
    )
    assert (include / "exports" / "customer_profiles_csv.yaml").exists()


def test_an_export_another_depends_on_is_refused_naming_it(include):
    after = (include / "exports" / "daily_lead_backup.yaml").read_text()
    after = after.replace("id: daily_lead_backup", "id: after_accounts").replace(
        "depends_on: [lead]", f"depends_on: [{LONE}]"
    )
    (include / "exports" / "after_accounts.yaml").write_text(after)
    assert "after_accounts" in load_project(include).exports

    result = run_ferry("remove", LONE, "--yes")

    assert result.code == 1
    assert "export 'after_accounts' (include/exports/after_accounts.yaml) depends on it" in (
        result.err
    )
    assert (include / "exports" / f"{LONE}.yaml").exists()


def test_without_yes_and_no_terminal_nothing_is_removed(include, monkeypatch):
    result = run_ferry("remove", LONE)

    assert result.code == 1
    assert "confirm with --yes" in result.err
    assert (include / "exports" / f"{LONE}.yaml").exists()


def test_a_broken_definition_can_be_removed(include):
    path = include / "exports" / f"{LONE}.yaml"
    path.write_text(path.read_text() + "no_such_field: 1\n")
    assert f"exports.{LONE}" in load_project(include).broken

    assert run_ferry("remove", LONE, "--yes").code == 0
    assert not path.exists()


def test_an_unknown_export_is_refused(include):
    result = run_ferry("remove", "no_such_export", "--yes")

    assert result.code == 1
    assert "no export 'no_such_export'" in result.err


def test_under_git_the_deletion_is_left_in_the_working_tree_to_commit(include):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", str(include)], check=True)
    subprocess.run([*git, "-C", str(include), "add", "."], check=True)
    subprocess.run([*git, "-C", str(include), "commit", "-qm", "defs"], check=True)

    result = run_ferry("remove", LONE, "--yes")

    assert result.code == 0, result.err
    assert "under git: removed in the working tree only; commit the deletion" in result.out
    status = subprocess.run(
        ["git", "-C", str(include), "status", "--porcelain"], capture_output=True, text=True
    )
    assert status.stdout.strip() == f"D exports/{LONE}.yaml"
