"""ferry.record: what the end of a run writes in the run history, and who is told.

A real history database per test. Notices go to a webhook connection that does not
exist: sending fails, and the attempt is what the log shows (a notice never fails a run).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict

import airflow.sdk  # noqa: F401  (see LOG)
import pytest

from ferry import history, record
from ferry.manifest import Manifest, StagedFile
from ferry.record import Ending
from ferry.run_info import RunInfo
from ferry.spec.models import ExportSpec, GroupSpec, ImportSpec

# Made after Airflow's import, which configures logging and switches off older loggers
LOG = logging.getLogger("test.record")
T0 = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
RUN = RunInfo("leads", "manual__2026-11-20T02:00:00+00:00", run_after=T0)
NOWHERE = {"on_failure": ["webhook:ferry_no_such_connection"]}
EXPORT = ExportSpec.model_validate({
    "id": "leads", "name": "Leads", "source": {"table": "lead"}, "fields": ["lead_id"],
    "destinations": [{"type": "download"}],
    "notify": {**NOWHERE, "on_success": NOWHERE["on_failure"]},
})  # fmt: skip
FILES = [
    StagedFile("part-00000.csv", 3, 40, "ab" * 32),
    StagedFile("schema.json", 0, 9, "cd" * 32, "schema"),
]
MANIFEST = Manifest(
    "leads", RUN.job_run_id, RUN.run_id, "csv", "none", FILES, [], [], rows=3, bytes=49
)


@pytest.fixture(autouse=True)
def own_history(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "ferry"))


def notices(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Notify:")]


def test_finalize_records_the_delivered_run_with_its_receipts_and_tells_on_success(caplog):
    receipts = [{"destination": "download", "files": 1}]
    ending = Ending(started_at=T0, group_run_id="", log_url="http://airflow/run")

    with caplog.at_level(logging.INFO, logger=LOG.name):
        written = record.finalize(RUN, EXPORT, MANIFEST, receipts, ending, log=LOG)

    stored = history.get_run(RUN.job_run_id)
    assert written == asdict(stored)
    assert (stored.outcome, stored.rows, stored.files, stored.bytes) == ("success", 3, 1, 49)
    assert json.loads(stored.destinations) == receipts and stored.log_url == "http://airflow/run"
    assert stored.summary() in caplog.messages
    [sent] = notices(caplog)
    assert sent.startswith(f"Notify: could not send 'Ferry: Leads success ({RUN.job_run_id})'")


def test_a_member_of_a_group_records_its_group_run_and_tells_nobody(caplog):
    member = RunInfo("leads", RUN.run_id, group_id="nightly", run_after=T0)
    ending = Ending(started_at=T0, group_run_id="nightly.r1", notify=False)

    with caplog.at_level(logging.INFO, logger=LOG.name):
        record.record_failed(member, "extract failed: boom", EXPORT, None, ending, log=LOG)

    stored = history.get_run(member.job_run_id)
    assert (stored.outcome, stored.reason, stored.group_run_id) == (
        "failed", "extract failed: boom", "nightly.r1",
    )  # fmt: skip
    assert notices(caplog) == []


def test_a_failed_run_keeps_what_it_had_staged_and_tells_on_failure(caplog):
    with caplog.at_level(logging.INFO, logger=LOG.name):
        made = record.record_failed(
            RUN, "validate failed: 2 expectations", EXPORT, MANIFEST, Ending(T0), log=LOG,
            outcome="stopped",
        )  # fmt: skip

    assert history.get_run(RUN.job_run_id) == made
    assert (made.outcome, made.rows, made.files) == ("stopped", 3, 1)
    assert len(notices(caplog)) == 1


def test_a_run_of_an_export_no_longer_defined_is_recorded_without_a_notice(caplog):
    with caplog.at_level(logging.INFO, logger=LOG.name):
        record.record_failed(RUN, "gone", None, None, Ending(T0), log=LOG)

    assert history.get_run(RUN.job_run_id).outcome == "failed"
    assert notices(caplog) == []


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        (["success", "empty"], "success"),
        (["empty", "empty"], "empty"),
        (["success", None], "incomplete"),
        (["skipped", "success"], "incomplete"),
        (["success", "stopped", None], "failed"),
        (["failed", "success"], "failed"),
    ],
)
def test_a_group_runs_outcome_is_its_worst_members(outcomes, expected):
    found = [
        history.RunRecord.ended(RunInfo(f"e{n}", "r1"), outcome, "", started_at=T0, finished_at=T0)
        if outcome else None
        for n, outcome in enumerate(outcomes)
    ]  # fmt: skip
    assert record.group_outcome(found) == expected


def test_the_group_summary_stamps_each_members_record_and_sends_one_notice(caplog):
    members = [RunInfo(e, "r1", group_id="nightly") for e in ("leads", "never_ran")]
    record.record_failed(members[0], "extract failed: boom", EXPORT, None, Ending(T0), log=LOG)
    group = GroupSpec.model_validate({
        "id": "nightly", "name": "Nightly", "notify": NOWHERE,
        "members": [{"export": "leads"}, {"export": "never_ran"}],
    })  # fmt: skip
    caplog.clear()

    with caplog.at_level(logging.INFO, logger=LOG.name):
        summary = record.summarize_group(group, "nightly.r1", members, link="http://x", log=LOG)

    assert summary.outcome == "failed"
    assert summary.failures == "leads: extract failed: boom"
    assert history.get_run(members[0].job_run_id).group_run_id == "nightly.r1"
    assert "  never_ran: did not run" in caplog.messages
    [sent] = notices(caplog)
    assert "'Ferry: group Nightly failed (nightly.r1)'" in sent


IMPORT = ImportSpec.model_validate({
    "id": "leads", "name": "Leads", "table": "lead", "mode": "merge",
    "source": {"type": "folder", "path": "partner", "pattern": "leads.csv"},
    "notify": {"on_success": NOWHERE["on_failure"]},
})  # fmt: skip


def loaded(already: bool) -> dict:
    result = {"rows_read": 2, "inserted": 2, "already_loaded": already}
    return {"table": "lead", "mode": "merge", "files": [], "result": result}


@pytest.mark.parametrize(("already", "told"), [(False, 1), (True, 0)])
def test_an_import_tells_on_success_once_not_again_on_a_rerun_that_loaded_nothing(
    caplog, already, told
):
    with caplog.at_level(logging.INFO, logger=LOG.name):
        written = record.finalize_import(RUN, IMPORT, loaded(already), Ending(T0), log=LOG)
    assert written["outcome"] == "success"
    assert written["reason"] == (history.ALREADY_LOADED if already else "")
    assert len(notices(caplog)) == told
