"""The system refresh: new rows published atomically, assets emitted, exports kept waiting.

Every test refreshes a private copy of the session's warehouse (FERRY_WAREHOUSE), so the
other tests keep reading the data they expect.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from ferry import history, refresh
from ferry.spec.loader import load_project
from ferry_demo import refresh as demo_refresh
from include_copy import copy_include

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 24, 12, 0)


@pytest.fixture
def private_warehouse(warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "warehouse" / "demo.duckdb"
    copy.parent.mkdir()
    shutil.copyfile(warehouse, copy)
    monkeypatch.setenv("FERRY_WAREHOUSE", str(copy))
    return copy


@pytest.fixture(scope="module")
def project():
    return load_project(ROOT / "include")


def count(path: Path, table: str) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- The refresh DAG ---------------------------------------------------------------------


def asset_events_of(run_id: str) -> dict[str, dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = (
        select(AssetModel.uri, AssetEvent.extra)
        .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
        .where(AssetEvent.source_run_id == run_id)
    )
    with create_session() as session:
        return dict(session.execute(query).all())


def test_refresh_dag_publishes_new_rows_and_emits_an_asset_per_table_and_segment(
    private_warehouse, project, airflow_db
):
    from airflow.dag_processing.dagbag import DagBag

    before = {table: count(private_warehouse, table) for table in ("contact", "lead")}
    dag = DagBag(dag_folder=str(ROOT / "dags" / "ferry_demo_refresh.py")).dags["ferry_refresh"]

    run = dag.test(run_conf={"new_profiles": 40})

    assert run.state == "success"
    assert count(private_warehouse, "contact") == before["contact"] + 20
    assert count(private_warehouse, "lead") == before["lead"] + 40
    assert count(private_warehouse, "segment_membership") > 0
    events = asset_events_of(run.run_id)
    expected = {f"ferry://warehouse/table/{t}" for t in demo_refresh.REFRESHED_TABLES}
    expected |= {f"ferry://warehouse/segment/{s}" for s in project.segments}
    assert set(events) == expected
    assert {extra["batch"] for extra in events.values()} == {1}
    exports = DagBag(dag_folder=str(ROOT / "dags" / "ferry_exports.py")).dags
    for dag_id in ("export__customer_profiles_csv", "export__linkedin_enterprise_accounts"):
        listened = {asset.uri for asset in exports[dag_id].timetable.asset_condition.objects}
        assert listened <= set(events), f"{dag_id} would not run after this refresh"
    assert refresh.refreshes_in_progress(demo_refresh.refreshed_names(project)) == []
    assert not demo_refresh.work_path(private_warehouse).exists()


def test_unify_merges_known_customers_by_email_and_adds_the_rest(private_warehouse, project):
    profiles = count(private_warehouse, "customer_profile")

    result = demo_refresh.run_refresh(private_warehouse, project, now=NOW, new_profiles=30)

    merged, added = result.unified["merged_records"], result.unified["new_profiles"]
    assert merged == 10 and added == 20  # every 3rd of 30 incoming records is a known customer
    assert count(private_warehouse, "customer_profile") == profiles + added
    with duckdb.connect(str(private_warehouse), read_only=True) as con:
        touched = con.execute(
            "SELECT count(*) FROM customer_profile WHERE updated_at = ?", [NOW]
        ).fetchone()[0]
    assert touched == result.unified["updated_profiles"] > 0


def rows_of(path: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def test_the_same_refresh_of_the_same_warehouse_gives_the_same_rows(
    private_warehouse, project, tmp_path
):
    other = tmp_path / "other.duckdb"
    shutil.copyfile(private_warehouse, other)
    for path in (private_warehouse, other):
        demo_refresh.run_refresh(path, project, now=NOW, new_profiles=20)
    for table in (*demo_refresh.REFRESHED_TABLES, "segment_membership"):
        assert rows_of(private_warehouse, table) == rows_of(other, table), table


def test_a_failed_refresh_keeps_the_warehouse_and_releases_its_markers(
    private_warehouse, project, monkeypatch
):
    before = digest(private_warehouse)

    def broken(*args):
        raise RuntimeError("source went away")

    monkeypatch.setattr(demo_refresh, "_unify", broken)
    with pytest.raises(RuntimeError, match="source went away"):
        demo_refresh.run_refresh(private_warehouse, project, now=NOW)

    assert digest(private_warehouse) == before
    assert refresh.refreshes_in_progress(demo_refresh.refreshed_names(project)) == []
    assert not demo_refresh.work_path(private_warehouse).exists()


def test_a_second_refresh_is_refused_while_one_runs(private_warehouse, project):
    names = demo_refresh.refreshed_names(project)
    first = demo_refresh.begin(private_warehouse, names, now=NOW)
    try:
        with pytest.raises(demo_refresh.RefreshBusy, match="another refresh is running"):
            demo_refresh.run_refresh(private_warehouse, project, now=NOW)
        assert refresh.refreshes_in_progress(names) == names
    finally:
        demo_refresh.end(first)
    assert refresh.refreshes_in_progress(names) == []


# --- Readers during refreshes -----------------------------------------------------------------

READER = """
import json, sys, time
from pathlib import Path
from ferry.sources.duckdb_file import open_duckdb

warehouse, stop = Path(sys.argv[1]), Path(sys.argv[2])
counts, errors = [], []
print("ready", flush=True)
while not stop.exists():
    try:
        with open_duckdb(warehouse) as con:
            counts.append(con.execute("SELECT count(*) FROM lead").fetchone()[0])
    except Exception as error:
        errors.append(repr(error))
print(json.dumps({"counts": counts, "errors": errors}), flush=True)
"""


def test_exports_read_while_refreshes_publish_without_lock_errors(
    private_warehouse, project, tmp_path
):
    base, stop = count(private_warehouse, "lead"), tmp_path / "stop"
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(private_warehouse), str(stop)],
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for _ in range(2)
    ]
    for reader in readers:
        assert reader.stdout.readline().strip() == "ready"

    for hour in range(3):
        moment = NOW + dt.timedelta(hours=hour)
        demo_refresh.run_refresh(private_warehouse, project, now=moment, new_profiles=100)
    stop.touch()

    reports = [json.loads(reader.communicate(timeout=60)[0].splitlines()[-1]) for reader in readers]
    counts = [value for report in reports for value in report["counts"]]
    assert [report["errors"] for report in reports] == [[], []]
    assert set(counts) <= {base, base + 100, base + 200, base + 300}
    assert len(set(counts)) >= 2, "the reads should overlap the refreshes"
    assert count(private_warehouse, "lead") == base + 300


def test_a_pinned_warehouse_keeps_the_version_a_reader_started_on(private_warehouse, project):
    before = count(private_warehouse, "lead")
    with demo_refresh.pinned(private_warehouse) as frozen:
        demo_refresh.run_refresh(private_warehouse, project, now=NOW, new_profiles=10)
        assert count(frozen, "lead") == before
        assert count(private_warehouse, "lead") == before + 10
    assert not frozen.exists()


# --- Exports wait for a running refresh ------------------------------------------------------

CRON_EXPORT = """\
id: fresh_profiles
name: Fresh profiles
source: {table: customer_profile}
fields: [profile_id, city]
destinations: [{type: download}]
schedule: "0 2 * * *"
"""


@pytest.fixture
def include_with_cron_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    include = copy_include(tmp_path)
    (include / "exports" / "fresh_profiles.yaml").write_text(CRON_EXPORT)
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    return include


def test_a_cron_export_waits_for_a_running_refresh_then_reads_its_rows(
    private_warehouse, include_with_cron_export, airflow_db, monkeypatch
):
    from airflow.dag_processing.dagbag import DagBag

    from ferry.render.sensors import RefreshTrigger

    project = load_project(include_with_cron_export)
    before = count(private_warehouse, "customer_profile")
    batch = demo_refresh.begin(
        private_warehouse, demo_refresh.refreshed_names(project), now=NOW, new_profiles=60
    )
    deferred = threading.Event()
    watched = _signal_when_run(RefreshTrigger.run, deferred)
    monkeypatch.setattr(RefreshTrigger, "run", watched)
    finisher = threading.Thread(target=_finish_refresh, args=(batch, project, deferred))
    finisher.start()

    bag = DagBag(dag_folder=str(ROOT / "dags" / "ferry_exports.py"))
    dag = bag.dags["export__fresh_profiles"]
    dag.get_task("wait_for_refresh").poke_interval = 0.2
    run = dag.test()
    finisher.join(timeout=60)

    assert deferred.is_set(), "wait_for_refresh should have deferred to its trigger"
    assert run.state == "success"
    [record] = history.list_runs("fresh_profiles")
    assert record.rows == count(private_warehouse, "customer_profile") > before


def _signal_when_run(original, event: threading.Event):
    async def run(self):
        event.set()
        async for fired in original(self):
            yield fired

    return run


def _finish_refresh(batch, project, deferred: threading.Event) -> None:
    """The rest of a refresh, once the export is waiting for it."""
    deferred.wait(timeout=60)
    demo_refresh.ingest(batch)
    demo_refresh.unify(batch)
    demo_refresh.refresh_memberships(batch, project)
    demo_refresh.publish(batch, Path(os.environ["FERRY_WAREHOUSE"]))
    demo_refresh.end(batch)
