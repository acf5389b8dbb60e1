"""Job groups run with dag.test(): members in order, the chain stopping at a failure.

The definitions live in a copy of include/ with three small exports (the middle one a
segment its target does not accept, so its eligibility check fails) and two groups of
them: one plain, one whose middle member says continue_on_failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ferry import history, paths
from ferry.dag_ids import group_of_dag
from ferry.run_info import RunInfo
from include_copy import copy_include

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
MEMBERS = ["group_first", "group_ineligible", "group_last"]
LEAD_EXPORT = {
    "source": {"table": "lead"},
    "fields": ["lead_id", "state", "country"],
    "destinations": [{"type": "download"}],
    "schedule": "off",
    "retries": 0,
}


def _leads_of(state: str) -> dict:
    return {**LEAD_EXPORT, "filters": {"where": [{"field": "state", "op": "eq", "value": state}]}}


EXPORTS = {
    "group_first": _leads_of("TX"),
    "group_ineligible": {
        "kind": "segment", "source": {"segment": "enterprise_accounts"}, "target": "mailchimp",
        "destinations": [{"type": "download"}], "schedule": "off", "retries": 0,
    },
    "group_last": _leads_of("CA"),
}  # fmt: skip


def _write_definitions(include: Path) -> None:
    for export_id, body in EXPORTS.items():
        definition = {"id": export_id, "name": export_id.replace("_", " ").title(), **body}
        (include / "exports" / f"{export_id}.yaml").write_text(yaml.safe_dump(definition))
    groups = {
        "chain_stops": [(e, False) for e in MEMBERS],
        "chain_continues": [(e, e == "group_ineligible") for e in MEMBERS],
        # The failure comes first: the second member's continue_on_failure is about its
        # own failure, so it does not restart a chain that stopped before it.
        "chain_stopped_before": [("group_ineligible", False), ("group_first", True),
                                 ("group_last", False)],
    }  # fmt: skip
    for group_id, members in groups.items():
        group = {"id": group_id, "name": group_id.replace("_", " "), "members": [
            {"export": export, "continue_on_failure": keep_going} for export, keep_going in members
        ]}  # fmt: skip
        (include / "groups" / f"{group_id}.yaml").write_text(yaml.safe_dump(group))


@pytest.fixture(scope="module")
def group_dags(tmp_path_factory, warehouse, airflow_db):
    """The group DAGs rendered from a copy of include/ with the test definitions added."""
    from airflow.dag_processing.dagbag import DagBag

    include = copy_include(tmp_path_factory.mktemp("groups"))
    _write_definitions(include)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FERRY_INCLUDE", str(include))
        bag = DagBag(dag_folder=str(ROOT / "dags" / "ferry_groups.py"))
        assert bag.import_errors == {}
        yield bag.dags


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _member(export_id: str, run) -> RunInfo:
    return RunInfo(export_id, run.run_id, group_id=group_of_dag(run.dag_id))


def _record(export_id: str, run) -> history.RunRecord | None:
    return history.get_run(_member(export_id, run).job_run_id)


def test_members_run_in_order_as_task_groups(group_dags):
    dag = group_dags["group__chain_stops"]
    assert dag.get_task("group_first.start").downstream_task_ids == {"group_first.wait_for_refresh"}
    assert dag.get_task("group_first.finalize").downstream_task_ids == {"group_ineligible.start"}
    assert dag.get_task("group_ineligible.finalize").downstream_task_ids == {"group_last.start"}
    assert dag.get_task("group_last.finalize").downstream_task_ids == {"summary"}
    assert set(dag.task_group.children) == {*MEMBERS, "summary"}


def test_a_failed_member_stops_the_chain(group_dags):
    run = group_dags["group__chain_stops"].test()

    states = _states(run)
    assert run.state == "failed"
    assert states["group_first.finalize"] == "success"
    assert states["group_ineligible.check_eligibility"] == "failed"
    last = {task: state for task, state in states.items() if task.startswith("group_last.")}
    assert set(last.values()) == {"upstream_failed"}, last
    assert states["summary"] == "failed"
    group_run_id = RunInfo("chain_stops", run.run_id).job_run_id
    first, failed = _record("group_first", run), _record("group_ineligible", run)
    assert (first.outcome, first.group_run_id) == ("success", group_run_id)
    assert first.rows > 0
    # the member's run is not export__group_first's run of the same run id
    assert first.job_run_id == f"group_first.chain_stops+{RunInfo('x', run.run_id).safe_run_id}"
    assert history.get_run(RunInfo("group_first", run.run_id).job_run_id) is None
    assert (paths.downloads_dir() / "group_first" / first.job_run_id).is_dir()
    assert failed.outcome == "failed" and failed.group_run_id == group_run_id
    assert failed.reason.startswith("check_eligibility failed: The following segment is not")
    assert _record("group_last", run) is None


def test_continue_on_failure_runs_the_next_member(group_dags):
    run = group_dags["group__chain_continues"].test()

    states = _states(run)
    assert states["group_ineligible.check_eligibility"] == "failed"
    assert states["group_last.finalize"] == "success"
    last = _record("group_last", run)
    assert last.outcome == "success"
    # its duration counts from the end of the member before it, found by the member's key
    assert last.started_at == _record("group_ineligible", run).finished_at
    assert run.state == "failed", "a member failed, so the group run did"
    assert states["summary"] == "failed"


def test_a_member_that_did_not_run_does_not_restart_the_chain(group_dags):
    run = group_dags["group__chain_stopped_before"].test()

    states = _states(run)
    assert states["group_ineligible.check_eligibility"] == "failed"
    for member in ("group_first", "group_last"):
        ran = {t: s for t, s in states.items() if t.startswith(f"{member}.") and s == "success"}
        assert ran in ({}, {"group_first.done": "success"}), ran
        assert _record(member, run) is None
    assert run.state == "failed"
