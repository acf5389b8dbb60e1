"""Import DAGs in a real DagBag: import__<id> has the design's chain, a broken import gets its
own error DAG and hides nothing, and a group runs an import before the export reading it."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from include_copy import copy_include

ROOT = Path(__file__).resolve().parents[2]
GROUP = """\
id: load_then_send
name: Load then send
members:
  - import: partner_leads
  - export: daily_lead_backup
    continue_on_failure: true
  - import: second_leads
"""
SECOND = """\
id: second_leads
name: Second leads
source: {type: s3, connection: partner_s3, bucket: partner-drop, path: in,
         pattern: "more_{{ ds }}.jsonl", files: one}
format: {type: jsonl}
table: lead
mode: append
columns: [lead_id, state]
wait: {timeout: 30m, poke_interval: 30s}
enabled: false
tags: [partner]
"""

AFTER_LEADS = """\
id: after_leads
name: After leads
source: {table: lead}
fields: [lead_id, state]
destinations: [{type: download}]
schedule: refresh
"""


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    from airflow.dag_processing.dagbag import DagBag

    include = copy_include(tmp_path_factory.mktemp("imports"))
    (include / "imports" / "second_leads.yaml").write_text(SECOND)
    (include / "imports" / "broken.yaml").write_text(
        "id: broken\nname: Broken\nsource: {type: folder, pattern: x.csv}\ntable: leads\n"
        "mode: append\n"
    )
    (include / "groups" / "load_then_send.yaml").write_text(GROUP)
    (include / "exports" / "after_leads.yaml").write_text(AFTER_LEADS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FERRY_INCLUDE", str(include))
        yield DagBag(dag_folder=str(ROOT / "dags"))


def test_an_import_dag_waits_for_its_file_then_loads_then_finalizes(dagbag):
    dag = dagbag.dags["import__partner_leads"]
    assert sorted(dag.task_ids) == ["finalize", "load", "wait_for_file"]
    for upstream, downstream in itertools.pairwise(["wait_for_file", "load", "finalize"]):
        assert dag.get_task(upstream).downstream_task_ids == {downstream}
    wait = dag.get_task("wait_for_file")
    assert (wait.mode, wait.poke_interval, wait.timeout) == ("reschedule", 60, 7200)
    [asset] = dag.get_task("finalize").outlets
    assert asset.uri == "ferry://warehouse/table/lead"
    # an export scheduled after refreshes of lead runs on that very asset
    after = dagbag.dags["export__after_leads"].timetable.asset_condition
    assert asset in after.objects
    assert {"ferry", "import", "mode:merge", "table:lead"} <= set(dag.tags)
    assert dag.get_task("load").retries == 2 and dag.get_task("load").owner == "data-platform"


def test_schedule_enabled_and_tags_work_as_for_exports(dagbag):
    daily = dagbag.dags["import__partner_leads"]
    assert daily.timetable.expression == "0 0 * * *" and not daily.is_paused_upon_creation
    second = dagbag.dags["import__second_leads"]
    assert second.is_paused_upon_creation and not hasattr(second.timetable, "expression")
    assert {"inactive", "disabled", "partner"} <= set(second.tags)
    wait = second.get_task("wait_for_file")
    assert (wait.poke_interval, wait.timeout) == (30, 1800)


def test_a_broken_import_gets_its_error_dag_and_hides_nothing(dagbag):
    broken = dagbag.dags["ferry_broken__imports.broken"]
    assert "imports/broken.yaml:4 -> table -> unknown table 'leads'" in broken.doc_md
    assert "did you mean 'lead'?" in broken.doc_md
    assert {"import__partner_leads", "import__second_leads", "export__daily_lead_backup"} <= set(
        dagbag.dags
    )
    [(file, message)] = dagbag.import_errors.items()
    assert file.endswith("ferry_definition_errors.py") and "imports/broken.yaml:4" in message


def test_a_group_runs_an_import_before_the_export_that_reads_its_table(dagbag):
    dag = dagbag.dags["group__load_then_send"]
    chain = [
        "partner_leads.start", "partner_leads.wait_for_file", "partner_leads.load",
        "partner_leads.finalize", "daily_lead_backup.start", "daily_lead_backup.wait_for_refresh",
    ]  # fmt: skip
    for upstream, downstream in itertools.pairwise(chain):
        assert downstream in dag.get_task(upstream).downstream_task_ids, (upstream, downstream)
    # after the export (continue_on_failure): the second import, then the summary
    assert dag.get_task("second_leads.start").upstream_task_ids == {
        "daily_lead_backup.start", "daily_lead_backup.done",
    }  # fmt: skip
    assert dag.get_task("summary").upstream_task_ids == {"second_leads.finalize"}
    assert "partner_leads -> daily_lead_backup -> second_leads" in dag.description
