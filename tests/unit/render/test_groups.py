"""A group DAG (ferry.render.groups) is ferry.pipeline.group_run rendered: members as
TaskGroups in order, each gated on the one before, one summary; group-wide task ids."""

from __future__ import annotations

import pytest

from ferry.spec.loader import load_project
from include_copy import copy_include

# include/groups/nightly_customer_sync.yaml: the first member continues on failure
FIRST, SECOND, THIRD = "customer_profiles_csv", "daily_lead_backup", "mailchimp_high_value"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return load_project(copy_include(tmp_path_factory.mktemp("groups")))


@pytest.fixture(scope="module")
def dag(project):
    from ferry.render.groups import render_groups

    return render_groups(project)["group__nightly_customer_sync"]


def upstream(dag, task_id: str) -> set[str]:
    return dag.get_task(task_id).upstream_task_ids


def test_members_run_in_order_each_behind_its_start(dag):
    assert set(dag.task_group.children) == {FIRST, SECOND, THIRD, "summary"}
    for member in (FIRST, SECOND, THIRD):
        assert upstream(dag, f"{member}.wait_for_refresh") == {f"{member}.start"}
    assert upstream(dag, f"{FIRST}.start") == set()
    assert upstream(dag, f"{THIRD}.start") == {f"{SECOND}.finalize"}
    assert upstream(dag, "summary") == {f"{THIRD}.finalize"}
    assert dag.get_task("summary").trigger_rule == "all_done"


def test_a_member_that_continues_on_failure_gates_the_next_on_its_start_and_done(dag):
    done = dag.get_task(f"{FIRST}.done")
    assert done.upstream_task_ids == {f"{FIRST}.finalize"}
    assert done.trigger_rule == "all_done"
    assert upstream(dag, f"{SECOND}.start") == {f"{FIRST}.start", f"{FIRST}.done"}
    assert f"{SECOND}.done" not in dag.task_ids


def test_a_members_finalize_pulls_its_own_deliveries_and_knows_the_member_before(dag, project):
    from ferry.render.operators import Membership, RecordFailure

    finalize = dag.get_task(f"{SECOND}.finalize")
    assert finalize.deliver_task_ids == [f"{SECOND}.deliver_download"]
    assert finalize.membership == Membership("nightly_customer_sync", FIRST)
    assert dag.get_task(f"{FIRST}.finalize").membership.previous_export_id is None
    [callback] = dag.get_task(f"{SECOND}.extract").on_failure_callback
    assert isinstance(callback, RecordFailure) and callback.membership == finalize.membership
    export = project.exports[SECOND]
    assert dag.get_task(f"{SECOND}.extract").retries == export.retries
    assert dag.get_task(f"{SECOND}.extract").owner == export.owner


def test_the_summary_names_the_members_in_order(dag):
    summary = dag.get_task("summary")
    assert (summary.group_id, summary.export_ids) == (
        "nightly_customer_sync",
        [FIRST, SECOND, THIRD],
    )
