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
import time
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


def test_a_failed_refresh_keeps_the_warehouse_and_drops_its_work_file(
    private_warehouse, project, monkeypatch
):
    before = digest(private_warehouse)

    def broken(*args):
        raise RuntimeError("source went away")

    monkeypatch.setattr(demo_refresh, "_unify", broken)
    with pytest.raises(RuntimeError, match="source went away"):
        demo_refresh.run_refresh(private_warehouse, project, now=NOW)

    assert digest(private_warehouse) == before
    assert not demo_refresh.work_path(private_warehouse).exists()


def test_a_second_refresh_is_refused_while_one_runs(private_warehouse, project):
    first = demo_refresh.begin(private_warehouse, now=NOW)
    try:
        with pytest.raises(demo_refresh.RefreshBusy, match="another refresh is running"):
            demo_refresh.run_refresh(private_warehouse, project, now=NOW)
    finally:
        demo_refresh.end(first)
    demo_refresh.run_refresh(private_warehouse, project, now=NOW, new_profiles=1)


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


# --- Exports wait while a team's own refresh DAG runs -----------------------------------------

CRON_EXPORT = """\
id: fresh_profiles
name: Fresh profiles
source: {table: customer_profile}
fields: [profile_id, city]
destinations: [{type: download}]
schedule: "0 2 * * *"
"""

# A team's own DAG, not Ferry's: its two Ferry lines are the import and the outlets.
TEAM_DAG = """\
import datetime as dt

from airflow.sdk import DAG, task
from ferry.refresh import refreshed

with DAG("team_crm_refresh", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)):

    @task
    def load_crm():
        pass

    @task(outlets=refreshed("customer_profile"))
    def publish_profiles():
        pass

    load_crm() >> publish_profiles()
"""


@pytest.fixture
def include_with_cron_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    include = copy_include(tmp_path)
    (include / "exports" / "fresh_profiles.yaml").write_text(CRON_EXPORT)
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    return include


@pytest.fixture
def team_dag(tmp_path: Path, airflow_db):
    """The team's DAG, known to Airflow as the DAG processor would write it, refreshed once
    (Airflow learns from that asset event that it refreshes customer_profile)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    folder = tmp_path / "team_dags"
    folder.mkdir()
    (folder / "team_crm_refresh.py").write_text(TEAM_DAG)
    bag = DagBag(dag_folder=str(folder))
    assert not bag.import_errors, bag.import_errors
    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    sync_bag_to_db(bag, "dags-folder", None)
    dag = bag.dags["team_crm_refresh"]
    assert dag.test().state == "success"
    yield dag
    _finish_team_runs(dag.dag_id)  # no run left running for the other tests' exports


def start_team_run(dag) -> str:
    """A run of the team's DAG in state running, as the scheduler starts it."""
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    now = dt.datetime.now(dt.UTC)
    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    with create_session() as session:
        run = scheduler_dag.create_dagrun(
            run_id=f"manual__{now.isoformat()}", logical_date=None, data_interval=None,
            run_after=now, conf=None, run_type=DagRunType.MANUAL, state=DagRunState.RUNNING,
            triggered_by=DagRunTriggeredByType.TEST, triggering_user_name="team",
            start_date=now, session=session,
        )  # fmt: skip
        return run.run_id


def _finish_team_runs(dag_id: str, run_id: str | None = None) -> None:
    """The team's refresh ends: its tasks and runs succeed, as the scheduler records them."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    with create_session() as session:
        runs = select(DagRun).where(DagRun.dag_id == dag_id, DagRun.state != "success")
        for run in session.scalars(runs).all():
            if run_id in (None, run.run_id):
                for ti in session.scalars(
                    select(TaskInstance).where(
                        TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id
                    )
                ):
                    ti.state = TaskInstanceState.SUCCESS
                run.set_state(DagRunState.SUCCESS)


def test_a_cron_export_waits_while_a_teams_refresh_dag_runs_then_reads(
    private_warehouse, include_with_cron_export, team_dag, monkeypatch
):
    from airflow.dag_processing.dagbag import DagBag

    from ferry.render.sensors import RefreshTrigger

    team_run = start_team_run(team_dag)
    deferred, finished = threading.Event(), threading.Event()
    monkeypatch.setattr(RefreshTrigger, "run", _signal_when_run(RefreshTrigger.run, deferred))
    finisher = threading.Thread(
        target=_finish_when_deferred, args=(team_dag.dag_id, team_run, deferred, finished)
    )
    finisher.start()

    dag = DagBag(dag_folder=str(ROOT / "dags" / "ferry_exports.py")).dags["export__fresh_profiles"]
    dag.get_task("wait_for_refresh").poke_interval = 0.2
    run = dag.test()
    finisher.join(timeout=60)

    assert deferred.is_set(), "wait_for_refresh should have deferred while the team's DAG ran"
    assert finished.is_set() and run.state == "success"
    extract = _task_instance(dag.dag_id, run.run_id, "extract")
    assert extract.start_date > finished.at, "the export read before the refresh finished"
    [record] = history.list_runs("fresh_profiles")
    assert record.rows == count(private_warehouse, "customer_profile")


def test_a_refresh_that_starts_while_the_export_waits_is_waited_for_too(
    private_warehouse, include_with_cron_export, team_dag, monkeypatch
):
    from airflow.dag_processing.dagbag import DagBag

    from ferry.render.sensors import RefreshTrigger

    first = start_team_run(team_dag)
    deferrals: list[str] = []
    monkeypatch.setattr(RefreshTrigger, "run", _count_runs(RefreshTrigger.run, deferrals))
    ended = {}

    def team_refreshes() -> None:  # the next refresh starts before the first one ends
        _until(lambda: deferrals)
        second = start_team_run(team_dag)
        _finish_team_runs(team_dag.dag_id, first)
        _until(lambda: len(deferrals) == 2)
        time.sleep(0.5)
        _finish_team_runs(team_dag.dag_id, second)
        ended["second"] = dt.datetime.now(dt.UTC)

    refreshes = threading.Thread(target=team_refreshes)
    refreshes.start()
    dag = DagBag(dag_folder=str(ROOT / "dags" / "ferry_exports.py")).dags["export__fresh_profiles"]
    dag.get_task("wait_for_refresh").poke_interval = 0.2
    run = dag.test()
    refreshes.join(timeout=60)

    assert run.state == "success" and len(deferrals) == 2
    extract = _task_instance(dag.dag_id, run.run_id, "extract")
    assert extract.start_date > ended["second"], "the export read during the second refresh"


def _count_runs(original, runs: list):
    async def run(self):
        runs.append(self.refreshes[0]["run_id"])
        async for fired in original(self):
            yield fired

    return run


def _until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the export never waited"
        time.sleep(0.05)


def _set_team_run(dag_id: str, run_id: str, *, done_tasks=(), started=None) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    with create_session() as session:
        for ti in session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id.in_(done_tasks),
            )
        ):
            ti.state = TaskInstanceState.SUCCESS
        if started is not None:
            run = session.scalars(select(DagRun).where(DagRun.run_id == run_id)).one()
            run.start_date = started


@pytest.mark.parametrize(
    "team_run_state",
    [
        {"done_tasks": ["load_crm", "publish_profiles"]},  # published; the run goes on
        {"started": dt.datetime.now(dt.UTC) - refresh.STALE_AFTER - dt.timedelta(minutes=1)},
    ],
    ids=["published-already", "stale"],
)
def test_a_run_that_published_already_or_went_stale_does_not_hold_the_export(
    private_warehouse, include_with_cron_export, team_dag, monkeypatch, team_run_state
):
    from airflow.dag_processing.dagbag import DagBag

    from ferry.render.sensors import RefreshTrigger

    team_run = start_team_run(team_dag)
    _set_team_run(team_dag.dag_id, team_run, **team_run_state)
    deferred = threading.Event()
    monkeypatch.setattr(RefreshTrigger, "run", _signal_when_run(RefreshTrigger.run, deferred))

    dag = DagBag(dag_folder=str(ROOT / "dags" / "ferry_exports.py")).dags["export__fresh_profiles"]
    wait = dag.get_task("wait_for_refresh")
    wait.poke_interval, wait.timeout = 0.2, 3  # a wrong wait fails fast
    run = dag.test()

    assert run.state == "success" and not deferred.is_set()
    assert _task_instance(team_dag.dag_id, team_run, "publish_profiles").dag_run.state == "running"


def _signal_when_run(original, event: threading.Event):
    async def run(self):
        event.set()
        async for fired in original(self):
            yield fired

    return run


def _finish_when_deferred(dag_id, run_id, deferred, finished) -> None:
    """The team's refresh finishes a moment after the export started waiting for it."""
    deferred.wait(timeout=60)
    time.sleep(1)
    _finish_team_runs(dag_id, run_id)
    finished.at = dt.datetime.now(dt.UTC)
    finished.set()


def _task_instance(dag_id: str, run_id: str, task_id: str):
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
            )
        ).one()
