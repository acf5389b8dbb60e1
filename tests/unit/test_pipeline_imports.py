"""ferry.pipeline_imports: an import run's steps as plain objects, and the steps' calls up to
the load itself (ferry.imports.load, stood in for here where it is not built yet)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import sys
import types
from pathlib import Path

import pytest

from ferry import history, pipeline_imports, refresh
from ferry.exceptions import ExportRejected, kind_of
from ferry.imports import files
from ferry.pipeline import Kind
from ferry.record import Ending
from ferry.run_info import RunInfo
from ferry.spec.loader import load_project
from include_copy import copy_include

LOG = logging.getLogger("test")
RUN = RunInfo(
    "partner_leads", "scheduled__2026-03-04T00:00:00+00:00",
    logical_date=dt.datetime(2026, 3, 4, tzinfo=dt.UTC), triggered_by="test",
)  # fmt: skip
GROUP = "id: g\nname: G\nmembers:\n  - import: partner_leads\n  - export: daily_lead_backup\n"


@dataclasses.dataclass(frozen=True)
class Result:  # the shape of ferry.imports.load.ImportResult
    rows_read: int
    inserted: int
    updated: int
    deleted: int
    rejected: int
    skipped_files: tuple = ()
    rejects_file: str | None = None


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    include = copy_include(tmp_path)
    (include / "groups" / "g.yaml").write_text(GROUP)
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERRY_DROP", raising=False)
    drop = tmp_path / "home" / "drop" / "partner"
    drop.mkdir(parents=True)
    return drop


@pytest.fixture
def loads(monkeypatch) -> list[dict]:
    """What ferry.imports.load.load was called with; a stand-in answers where it is missing."""
    calls: list[dict] = []
    try:
        import ferry.imports.load as real
    except ImportError:
        real = None
    module = types.ModuleType("ferry.imports.load")

    def load(spec, table, local, folder, *, run_key, force, log):
        calls.append({"spec": spec, "table": table, "files": local, "folder": folder,
                      "run_key": run_key, "force": force,
                      "marked": refresh.refreshes_in_progress([spec.table])})  # fmt: skip
        if real is not None:
            return real.load(spec, table, local, folder, run_key=run_key, force=force, log=log)
        return Result(rows_read=3, inserted=2, updated=1, deleted=0, rejected=0)

    module.load = load
    monkeypatch.setitem(sys.modules, "ferry.imports.load", module)
    return calls


def test_an_import_run_waits_for_its_file_then_loads_then_finalizes(home):
    spec = load_project(Path(os.environ["FERRY_INCLUDE"])).imports["partner_leads"]
    steps = pipeline_imports.import_steps(spec)
    assert [(s.task_id, s.kind, s.upstreams) for s in steps] == [
        ("wait_for_file", Kind.WAIT, ()), ("load", Kind.PLAN, ("wait_for_file",)),
        ("finalize", Kind.FINALIZE, ("load",)),
    ]  # fmt: skip
    wait = steps[0].wait
    assert (wait.poke_interval, wait.timeout, wait.mode) == (
        dt.timedelta(minutes=1), dt.timedelta(hours=2), "reschedule",
    )  # fmt: skip


def test_a_group_chains_an_import_before_an_export(home):
    project = load_project(Path(os.environ["FERRY_INCLUDE"]))
    run = pipeline_imports.group_run(project.groups["g"], project)
    first, second = run.members
    assert first.export_id == "partner_leads"
    assert [s.task_id for s in first.steps] == ["start", "wait_for_file", "load", "finalize"]
    assert second.after == ("partner_leads.finalize",) and second.previous == "partner_leads"
    assert run.summary.upstreams == ("daily_lead_backup.finalize",)


def test_load_fetches_identical_files_and_loads_them_under_a_refresh_marker(home, loads):
    data = b"lead_id,E-mail\n1,a@example.com\n"
    (home / "leads_20260304.csv").write_bytes(data)
    (home / "leads_20260303.csv").write_bytes(b"other day")
    loaded = pipeline_imports.load(RUN, log=LOG)
    [call] = loads
    [local] = call["files"]
    assert local.path.read_bytes() == data and local.sha256 == hashlib.sha256(data).hexdigest()
    assert call["run_key"] == RUN.job_run_id and call["force"] is False
    assert call["table"].key == "lead_id"
    assert call["marked"] == ["lead"]  # exports starting meanwhile wait for the import
    assert refresh.refreshes_in_progress(["lead"]) == []  # and the marker is gone after it
    assert call["folder"] == pipeline_imports.run_folder(RUN)
    json.dumps(loaded)  # it travels as an XCom
    assert loaded["files"][0]["name"] == "leads_20260304.csv"
    assert loaded["files"][0]["sha256"] == local.sha256


def test_load_without_a_file_says_what_was_looked_for_where(home, loads):
    with pytest.raises(files.NoFiles) as missing:
        pipeline_imports.load(RUN, log=LOG)
    assert "no file matching 'leads_20260304*.csv' in" in str(missing.value)
    assert str(home) in str(missing.value) and kind_of(missing.value) == "terminal"
    assert loads == []


def test_finalize_records_the_counts_and_moves_the_files_to_done(home, loads):
    (home / "leads_20260304.csv").write_bytes(b"lead_id\n1\n")
    loaded = pipeline_imports.load(RUN, log=LOG)
    loaded["result"] = dataclasses.asdict(
        Result(rows_read=3, inserted=2, updated=1, deleted=0, rejected=0)
    )
    started = dt.datetime.now(dt.UTC)
    pipeline_imports.finalize(RUN, loaded, Ending(started_at=started, notify=False), log=LOG)
    record = history.get_run(RUN.job_run_id)
    assert record is not None and record.kind == "import"
    assert (record.outcome, record.rows, record.inserted, record.updated, record.rejected) == (
        "success", 3, 2, 1, 0,
    )  # fmt: skip
    assert record.destination_names == ["table lead"]
    assert "Import run partner_leads." in record.summary()
    assert "2 inserted, 1 updated, 0 deleted, 0 rejected" in record.summary()
    assert (home / "done" / "leads_20260304.csv").exists()
    assert not (home / "leads_20260304.csv").exists()


def test_a_failed_import_run_is_recorded_as_an_import(home):
    pipeline_imports.finalize_failed(RUN, "wait_for_file failed: no file", Ending(notify=False),
                                     log=LOG)  # fmt: skip
    [record] = history.list_runs("partner_leads")
    assert (record.kind, record.outcome, record.reason) == (
        "import", "failed", "wait_for_file failed: no file",
    )  # fmt: skip


def test_the_wait_timeout_names_the_pattern_the_folder_and_the_fix(home):
    spec = pipeline_imports.import_of("partner_leads")
    reason = pipeline_imports.wait_timeout_reason(spec, RUN.template_vars())
    assert reason.startswith("Import partner_leads: no file matching 'leads_20260304*.csv'")
    assert str(home) in reason and "within 2:00:00 (wait.timeout)" in reason


def test_an_unknown_import_is_rejected(home):
    with pytest.raises(ExportRejected, match="import 'nope' is not defined"):
        pipeline_imports.import_of("nope")
