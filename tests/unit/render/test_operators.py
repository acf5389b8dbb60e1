"""The operators in real Airflow runs (dag.test): terminal errors fail a task once, with
the reason and a failed record; transient ones are retried with backoff; bad run params
fail the first task at once; durations count from when the run really started.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from duckdb_lock import held_by_another_process
from ferry import history
from include_copy import copy_include

pytestmark = pytest.mark.integration  # dag.test() needs Airflow's metadata database
ROOT = Path(__file__).resolve().parents[3]
LEADS = {"source": {"table": "lead"}, "fields": ["lead_id", "state"]}
EXPORTS = {
    "expects_few_leads": {**LEADS, "expectations": [{"expect": "row_count_between", "max": 10}]},
    "hashes_without_key": {
        "source": {"table": "lead"},
        "fields": ["lead_id", "email"],
        "pii": {"email": "hash"},
    },
    "accounts_to_mailchimp": {
        "kind": "segment",
        "source": {"segment": "enterprise_accounts"},
        "target": "mailchimp",
    },
    "plain_leads": {**LEADS, "retries": 1},
    "leads_on_defaults": LEADS,
}
NOT_ELIGIBLE = "The following segment is not eligible for this export destination"


@pytest.fixture(scope="module")
def dags(tmp_path_factory, warehouse, airflow_db):
    """The export DAGs of a copy of include/ with the exports above added."""
    from airflow.dag_processing.dagbag import DagBag

    include = copy_include(tmp_path_factory.mktemp("operators"))
    for export_id, body in EXPORTS.items():
        definition = {"id": export_id, "name": export_id.replace("_", " "), "schedule": "off",
                      "destinations": [{"type": "download"}], **body}  # fmt: skip
        (include / "exports" / f"{export_id}.yaml").write_text(yaml.safe_dump(definition))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FERRY_INCLUDE", str(include))
        patch.delenv("AIRFLOW_CONN_FERRY_PII", raising=False)
        bag = DagBag(dag_folder=str(ROOT / "dags" / "ferry_exports.py"))
        assert not bag.import_errors, bag.import_errors
        yield bag.dags


def run(dags, export_id: str, conf: dict | None = None, **kwargs):
    """dag.test() of the export; (the run, {task_id: task instance})."""
    dag = dags[f"export__{export_id}"]
    for task in dag.tasks:  # keep the test quick: the backoff stays, its base shrinks
        task.retry_delay = dt.timedelta(seconds=0)
    # every param: dag.test() keeps the params of an earlier call on the same DAG object
    run_conf = {"date_from": None, "date_to": None, "ids": [], **(conf or {})}
    dag_run = dag.test(run_conf=run_conf, **kwargs)
    return dag_run, {ti.task_id: ti for ti in dag_run.get_task_instances()}


def failed_once(tis: dict, task_id: str) -> bool:
    """The task failed on its first try, with retries left, and no retry is scheduled."""
    ti = tis[task_id]
    return ti.state == "failed" and ti.try_number == 1 and ti.max_tries >= 1


def record_of(export_id: str) -> history.RunRecord:
    [record] = history.list_runs(export_id, limit=1)
    return record


@pytest.mark.parametrize(
    ("export_id", "task_id", "reason"),
    [
        ("expects_few_leads", "validate", "expectations failed: "),
        ("hashes_without_key", "extract", "no PII key is set: set the password of the Airflow"),
        ("accounts_to_mailchimp", "check_eligibility", NOT_ELIGIBLE),
    ],
)
def test_a_terminal_error_fails_the_task_once_with_the_reason(dags, export_id, task_id, reason):
    dag_run, tis = run(dags, export_id)

    assert dag_run.state == "failed"
    assert failed_once(tis, task_id), (tis[task_id].state, tis[task_id].try_number)
    assert tis["finalize"].state == "upstream_failed"
    record = record_of(export_id)
    assert record.outcome == "failed" and record.reason.startswith(f"{task_id} failed: ")
    assert reason in record.reason


def test_a_transient_error_is_retried(dags, warehouse, tmp_path, monkeypatch):
    locked = tmp_path / "locked.duckdb"
    shutil.copy(warehouse, locked)
    monkeypatch.setenv("FERRY_WAREHOUSE", str(locked))
    with held_by_another_process(locked):
        _, tis = run(dags, "plain_leads")

    assert tis["check_eligibility"].state == "success"
    check = tis["check_limits"]
    assert (check.state, check.try_number) == ("failed", 2), "retried once (retries: 1)"
    assert "Could not set lock on file" in record_of("plain_leads").reason


def test_ferry_tasks_back_off_exponentially(dags):
    for task in dags["export__plain_leads"].tasks:
        if task.task_id != "wait_for_refresh":
            assert task.retry_exponential_backoff == 2.0, task.task_id
            assert task.max_retry_delay == dt.timedelta(minutes=10), task.task_id


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"ids": ["abc"]}, "ids: item 1 ('abc') is not a value of the key lead_id (BIGINT)"),
        ({"ids": [[1, 2]]}, "run param ids: item 1 is a list, not a single key value"),
        ({"ids": list(range(10_001))}, "run param ids: 10,001 ids is over the maximum of 10,000"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_from 2026-03-02 is after"),
    ],
)
def test_bad_run_params_fail_the_first_task_at_once(dags, conf, message):
    """The first step (after any refresh wait). Airflow's param schema refuses a non-date."""
    _, tis = run(dags, "plain_leads", conf)

    assert failed_once(tis, "check_eligibility")
    assert tis["check_limits"].state == "upstream_failed"
    assert message in record_of("plain_leads").reason


def test_a_run_with_the_params_left_empty_exports_every_row(dags, warehouse):
    """No conf at all (a scheduled run), then what an empty trigger form sends (null)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(leads,)] = con.sql("SELECT count(*) FROM lead").fetchall()
    dag = dags["export__leads_on_defaults"]

    for conf in (None, {"date_from": None, "date_to": None, "ids": None}):
        dag_run = dag.test(run_conf=conf)
        assert dag_run.state == "success", conf
        assert record_of("leads_on_defaults").rows == leads > 0


def test_a_run_of_a_past_day_counts_its_duration_from_when_it_ran(dags):
    """`airflow dags test DAG DATE` starts the run "at" DATE: 12 days, not seconds."""
    began = dt.datetime.now(dt.UTC)
    past = began - dt.timedelta(days=12)

    dag_run, _ = run(dags, "plain_leads", {"ids": [1, 2]}, logical_date=past)

    assert dag_run.state == "success"
    record = record_of("plain_leads")
    assert record.rows == 2
    elapsed = (dt.datetime.now(dt.UTC) - began).total_seconds()
    assert 0 <= record.duration_s <= elapsed
    assert dt.datetime.fromisoformat(record.started_at) >= began - dt.timedelta(seconds=1)
