"""ferry.pipeline_imports: an import run's steps as plain objects, and the steps' calls through
the real load (ferry.imports.load) into the test's own copy of the demo warehouse."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from ferry import history, pipeline_imports, refresh
from ferry.exceptions import ExportRejected, kind_of
from ferry.imports import files
from ferry.pipeline import Kind
from ferry.record import Ending
from ferry.run_info import RunInfo
from ferry.spec.loader import load_project
from ferry_demo.drop import NEW_LEADS_FROM, drop_leads
from include_copy import copy_include

RUN = RunInfo(
    "partner_leads", "scheduled__2026-03-04T00:00:00+00:00",
    logical_date=dt.datetime(2026, 3, 4, tzinfo=dt.UTC), triggered_by="test",
)  # fmt: skip
GROUP = "id: g\nname: G\nmembers:\n  - import: partner_leads\n  - export: daily_lead_backup\n"
NEW_IDS = list(range(NEW_LEADS_FROM, NEW_LEADS_FROM + 10))


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


class MarkersSeen(logging.Handler):
    """The refresh markers of the lead table at each line the load logs (while it loads)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: dict[str, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.seen[record.getMessage()] = refresh.refreshes_in_progress(["lead"])


@pytest.fixture
def log() -> Iterator[logging.Logger]:
    logger = logging.getLogger("ferry.test.pipeline_imports")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler := MarkersSeen())
    yield logger
    logger.removeHandler(handler)


def partner_rows(warehouse: Path) -> dict[int, tuple]:
    """The lead table's rows the partner file touches: id -> (email, state, source, created)."""
    ids = [*range(1, 11), *NEW_IDS]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT lead_id, email, state, source, CAST(created_at AS VARCHAR) FROM lead "
            "WHERE list_contains(?, lead_id)",
            [ids],
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def lead_count(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT count(*) FROM lead").fetchone()[0]


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


def test_load_fetches_identical_files_and_merges_them_under_a_refresh_marker(
    home, own_warehouse, log
):
    before = lead_count(own_warehouse)
    dropped = drop_leads(RUN.logical_date.date(), home.parent)
    (home / "leads_20260303.csv").write_bytes(b"other day")
    loaded = pipeline_imports.load(RUN, log=log)
    [local] = (pipeline_imports.run_folder(RUN) / "files").iterdir()
    assert local.read_bytes() == dropped.read_bytes()
    json.dumps(loaded)  # it travels as an XCom
    [listed] = loaded["files"]
    assert listed["name"] == "leads_20260304.csv"
    assert listed["sha256"] == hashlib.sha256(dropped.read_bytes()).hexdigest()
    result = loaded["result"]
    assert (result["rows_read"], result["inserted"], result["updated"], result["rejected"]) == (
        20, 10, 10, 0,
    )  # fmt: skip
    rows = partner_rows(own_warehouse)
    assert lead_count(own_warehouse) == before + 10 and len(rows) == 20
    assert rows[1] == ("lead1@partner.example", "TX", "partner", "2026-03-04 09:30:00")
    assert rows[NEW_IDS[-1]][0] == f"lead{NEW_IDS[-1]}@partner.example"
    handler = next(h for h in log.handlers if isinstance(h, MarkersSeen))
    [loading] = [line for line in handler.seen if line.startswith("import partner_leads run")]
    assert handler.seen[loading] == ["lead"]  # exports starting meanwhile wait for the import
    assert refresh.refreshes_in_progress(["lead"]) == []  # and the marker is gone after it


def test_a_rerun_of_a_loaded_run_loads_nothing_again(home, own_warehouse, log):
    drop_leads(RUN.logical_date.date(), home.parent)
    pipeline_imports.load(RUN, log=log)
    with duckdb.connect(str(own_warehouse)) as con:  # someone fixes a row meanwhile
        con.execute("UPDATE lead SET state = 'ZZ' WHERE lead_id = 1")
    again = pipeline_imports.load(RUN, log=log)
    assert again["result"]["already_loaded"] is True
    assert partner_rows(own_warehouse)[1][1] == "ZZ"  # the file was not merged again


def test_load_without_a_file_says_what_was_looked_for_where(home, own_warehouse, log):
    before = own_warehouse.read_bytes()
    with pytest.raises(files.NoFiles) as missing:
        pipeline_imports.load(RUN, log=log)
    assert "no file matching 'leads_20260304*.csv' in" in str(missing.value)
    assert str(home) in str(missing.value) and kind_of(missing.value) == "terminal"
    assert own_warehouse.read_bytes() == before


def test_finalize_records_the_counts_and_moves_the_files_to_done(home, own_warehouse, log):
    drop_leads(RUN.logical_date.date(), home.parent)
    loaded = pipeline_imports.load(RUN, log=log)
    started = dt.datetime.now(dt.UTC)
    pipeline_imports.finalize(RUN, loaded, Ending(started_at=started, notify=False), log=log)
    record = history.get_run(RUN.job_run_id)
    assert record is not None and record.kind == "import"
    assert (record.outcome, record.rows, record.inserted, record.updated, record.rejected) == (
        "success", 20, 10, 10, 0,
    )  # fmt: skip
    assert record.destination_names == ["table lead"]
    assert "Import run partner_leads." in record.summary()
    assert "10 inserted, 10 updated, 0 deleted, 0 rejected" in record.summary()
    assert (home / "done" / "leads_20260304.csv").exists()
    assert not (home / "leads_20260304.csv").exists()


def test_a_failed_import_run_is_recorded_as_an_import(home):
    pipeline_imports.finalize_failed(RUN, "wait_for_file failed: no file", Ending(notify=False),
                                     log=logging.getLogger("test"))  # fmt: skip
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


def finalize_now(loaded: dict, log: logging.Logger) -> dict:
    started = dt.datetime.now(dt.UTC)
    return pipeline_imports.finalize(RUN, loaded, Ending(started_at=started, notify=False), log=log)


def partner_b_rows(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT count(*) FROM lead WHERE source = 'partnerB'").fetchone()[0]


def test_a_rerun_of_a_loaded_run_moves_only_the_files_it_loaded(home, own_warehouse, log):
    first = drop_leads(RUN.logical_date.date(), home.parent)
    pipeline_imports.load(RUN, log=log)  # loaded; its finalize never ran (a failed task)
    late = home / "leads_20260304_b.csv"  # a second file of the day arrives meanwhile
    late.write_bytes(first.read_bytes().replace(b"partner", b"partnerB"))
    again = pipeline_imports.load(RUN, log=log)  # the run is cleared and rerun
    assert again["result"]["already_loaded"] is True
    assert [f["name"] for f in again["files"]] == ["leads_20260304.csv"]
    finalize_now(again, log)
    assert (home / "done" / "leads_20260304.csv").exists()  # the file it loaded: moved now
    assert late.exists() and not (home / "done" / late.name).exists()  # never loaded: stays
    assert partner_b_rows(own_warehouse) == 0


def test_finalize_leaves_a_file_replaced_after_the_load_for_the_next_run(
    home, own_warehouse, log, caplog
):
    dropped = drop_leads(RUN.logical_date.date(), home.parent)
    loaded = pipeline_imports.load(RUN, log=log)
    replaced = dropped.read_bytes().replace(b"partner", b"partnerB")
    dropped.write_bytes(replaced)  # re-uploaded between load and finalize
    with caplog.at_level(logging.WARNING, logger=log.name):
        finalize_now(loaded, log)
    assert dropped.read_bytes() == replaced and not (home / "done" / dropped.name).exists()
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "leads_20260304.csv changed since it was loaded" in warning
    assert "left for the next run" in warning


def test_a_rerun_after_the_files_went_to_done_is_a_recorded_no_op_at_once(home, own_warehouse, log):
    spec = pipeline_imports.import_of("partner_leads")
    drop_leads(RUN.logical_date.date(), home.parent)
    finalize_now(pipeline_imports.load(RUN, log=log), log)
    assert list(home.glob("*.csv")) == []  # in done/ now
    before = lead_count(own_warehouse)
    again = pipeline_imports.load(RUN, log=log)  # no NoFiles: the ledger is asked first
    assert (again["result"]["already_loaded"], again["files"]) == (True, [])
    finalize_now(again, log)
    ready = pipeline_imports.files_ready(spec, RUN)
    assert ready and ready.loaded_before and ready.files == []  # no wait.timeout to sit out
    assert not pipeline_imports.files_ready(spec, RUN, force=True)  # forced: waits for a file
    record = history.get_run(RUN.job_run_id)
    assert record is not None and record.reason == history.ALREADY_LOADED
    assert (record.outcome, record.rows, record.inserted, record.updated) == (
        "success", 20, 10, 10,
    )  # fmt: skip
    assert lead_count(own_warehouse) == before


def test_the_wait_ends_when_the_files_are_whole(home, monkeypatch):
    spec = pipeline_imports.import_of("partner_leads")
    monkeypatch.setattr(files, "SETTLE_SECONDS", 0.05)
    assert not pipeline_imports.files_ready(spec, RUN)
    dropped = drop_leads(RUN.logical_date.date(), home.parent)
    ready = pipeline_imports.files_ready(spec, RUN)
    assert [f.location for f in ready.files] == [str(dropped)] and not ready.loaded_before
