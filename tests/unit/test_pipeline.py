"""ferry.pipeline: an export run's and a group's steps, as plain objects; the steps' calls."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from ferry import checks, pipeline
from ferry.engine import MissingPiiKeyError
from ferry.exceptions import ExportRejected
from ferry.pipeline import DONE, START, Kind
from ferry.run_info import RunInfo
from ferry.spec.loader import load_project
from include_copy import copy_include

LOG = logging.getLogger("test")
TWO_DESTINATIONS = {
    "id": "two_places",
    "name": "Two places",
    "source": {"table": "lead"},
    "fields": ["lead_id", "state"],
    "schedule": "off",
    "destinations": [{"type": "download"}, {"type": "download", "name": "archive"}],
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    include = copy_include(tmp_path_factory.mktemp("pipeline"))
    (include / "exports" / "two_places.yaml").write_text(yaml.safe_dump(TWO_DESTINATIONS))
    loaded = load_project(include)
    assert not loaded.errors, loaded.errors
    return loaded


def by_id(steps) -> dict:
    return {step.task_id: step for step in steps}


def test_an_export_run_is_the_designs_chain_with_one_delivery_per_destination(project):
    steps = pipeline.export_steps(project.exports["two_places"])

    assert [step.task_id for step in steps] == [
        "wait_for_refresh", "check_eligibility", "check_limits", "extract", "validate",
        "deliver_download", "deliver_archive", "finalize",
    ]  # fmt: skip
    assert [step.upstreams for step in steps] == [
        (), ("wait_for_refresh",), ("check_eligibility",), ("check_limits",), ("extract",),
        ("validate",), ("validate",), ("deliver_download", "deliver_archive"),
    ]  # fmt: skip
    assert [step.kind for step in steps] == [Kind.WAIT] + [Kind.PLAN] * 4 + [
        Kind.DELIVER, Kind.DELIVER, Kind.FINALIZE,
    ]  # fmt: skip
    assert [step.destination for step in steps if step.kind is Kind.DELIVER] == [
        "download",
        "archive",
    ]


def test_each_step_calls_the_module_named_for_what_it_does(project):
    steps = by_id(pipeline.export_steps(project.exports["daily_lead_backup"]))

    assert steps["check_eligibility"].call is checks.check_eligibility
    assert steps["check_limits"].call is checks.check_limits
    assert steps["extract"].call is pipeline.extract and steps["extract"].uses_pii_key
    assert not any(s.uses_pii_key for s in steps.values() if s.task_id != "extract")
    assert steps["deliver_download"].call is pipeline.deliver
    assert steps["finalize"].call is pipeline.finalize


def test_every_step_but_the_wait_retries_with_backoff_and_records_its_failure(project):
    steps = by_id(pipeline.export_steps(project.exports["daily_lead_backup"]))

    wait = steps.pop("wait_for_refresh")
    assert not wait.backoff and wait.wait == pipeline.REFRESH_WAIT
    assert wait.wait.mode == "reschedule" and wait.wait.timeout.total_seconds() == 7200
    assert all(step.backoff for step in steps.values())
    assert all(step.records_failure for step in [wait, *steps.values()])
    assert {step.trigger_rule for step in [wait, *steps.values()]} == {"all_success"}


def group_of(project, members: list[tuple[str, bool]]):
    spec = next(iter(project.groups.values()))
    listed = [{"export": export, "continue_on_failure": on} for export, on in members]
    group = spec.model_validate({**spec.model_dump(by_alias=True), "members": listed})
    return pipeline.group_run(group, project.exports)


def test_a_member_starts_after_the_previous_members_finalize(project):
    run = group_of(project, [("daily_lead_backup", False), ("two_places", False)])

    first, second = run.members
    assert first.after == () and first.previous is None
    assert second.after == ("daily_lead_backup.finalize",)
    assert second.previous == "daily_lead_backup"
    assert run.summary.upstreams == ("two_places.finalize",)
    assert run.summary.trigger_rule == "all_done" and run.summary.kind is Kind.SUMMARY


def test_a_member_that_continues_on_failure_gates_the_next_on_its_start_and_done(project):
    run = group_of(project, [("two_places", True), ("daily_lead_backup", True)])

    first, second = run.members
    assert first.steps[-1] == DONE and DONE.trigger_rule == "all_done"
    assert DONE.upstreams == ("finalize",)
    assert second.after == ("two_places.start", "two_places.done")
    assert run.summary.upstreams == ("daily_lead_backup.done",)


def test_a_members_steps_are_its_exports_behind_start(project):
    run = group_of(project, [("two_places", False)])

    [member] = run.members
    own = pipeline.export_steps(project.exports["two_places"])
    assert member.steps[0] == START and START.kind is Kind.GATE
    assert member.steps[1].task_id == "wait_for_refresh"
    assert member.steps[1].upstreams == ("start",)
    assert member.steps[2:] == own[1:]


def test_a_destination_gone_from_the_definition_fails_the_delivery_at_once():
    run = RunInfo("daily_lead_backup", "manual__2026-11-20T00:00:00+00:00")
    with pytest.raises(ExportRejected, match="has no destination 'sftp_old' now"):
        pipeline.deliver(run, "sftp_old", {}, 1, log=LOG)


def test_an_undefined_export_is_rejected_before_any_step():
    with pytest.raises(ExportRejected, match="export 'nope' is not defined or has errors"):
        pipeline.run_step("check_limits", RunInfo("nope", "r1"), log=LOG, pii_key=lambda: None)


def test_only_a_run_that_hashes_or_tokenizes_reads_the_pii_key(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "ferry"))
    monkeypatch.delenv("FERRY_STAGING", raising=False)
    asked = []

    def key() -> bytes:
        asked.append(True)
        return b"k3y"

    kept = RunInfo("customer_profiles_csv", "manual__keep", ids=(1, 2))
    assert pipeline.run_step("extract", kept, log=LOG, pii_key=key)["rows"] == 2
    assert asked == []
    hashed = RunInfo("daily_lead_backup", "manual__hash", ids=(1, 2))
    assert pipeline.run_step("extract", hashed, log=LOG, pii_key=key)["rows"] == 2
    assert asked == [True]
    with pytest.raises(MissingPiiKeyError):
        pipeline.run_step("extract", hashed, log=LOG, pii_key=lambda: None)


def test_the_broken_definition_task_fails_with_the_files_errors(tmp_path, monkeypatch):
    include = copy_include(tmp_path)
    (include / "exports" / "broken.yaml").write_text("id: broken\n")
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    run = RunInfo("exports.broken", "manual__1")

    with pytest.raises(ExportRejected, match=r"The definition did not load:\n.*broken\.yaml"):
        pipeline.run_step("definition_error", run, log=LOG, pii_key=lambda: None)
    Path(include / "exports" / "broken.yaml").unlink()
    with pytest.raises(ExportRejected, match=r"exports\.broken now loads"):
        pipeline.run_step("definition_error", run, log=LOG, pii_key=lambda: None)
