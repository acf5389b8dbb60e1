"""Render each job group (include/groups/) as one DAG group__<id>: members run in order.

Each member is a TaskGroup named after its export, holding that export's own tasks
(ferry.render.dags.export_tasks) behind an empty `start` task:

    a.start -> a.wait_for_refresh -> ... -> a.finalize -> b.start -> ... -> summary

By default a member starts only if the one before succeeded (b.start waits on a.finalize
with all_success). A member with continue_on_failure gets a `done` task that ends,
whatever happened, once its finalize has: the next member then waits on [a.start, a.done],
so it runs after a success, a failure or a skip of `a`, but never when `a` itself did not
run because the chain had already stopped. One `summary` task at the end reads each
member's run record, logs the group run as GroupID.RunID, sends the group's one
notification and fails the DAG run if any member failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, BaseOperator, Context, TaskGroup, TriggerRule, chain
from airflow.sdk.exceptions import AirflowFailException

from ferry.render.dags import (
    broken_dag,
    export_tasks,
    isolated,
    refresh_asset,
    refresh_dependencies,
    run_params,
)
from ferry.render.operators import Membership, run_info
from ferry.render.schedule import dag_schedule, start_date
from ferry.spec.loader import Project
from ferry.spec.models import GroupMember, GroupSpec
from ferry.spec.schedule import status_note


def render_groups(project: Project) -> dict[str, DAG]:
    """One DAG per valid group, by dag_id (group files broken at load render with the exports).

    A group that fails to render gets its error DAG here, where the failure is seen.
    """
    dags, before = {}, set(project.broken)
    for group in project.groups.values():
        dag = isolated(project, f"groups:{group.id}", lambda g=group: group_dag(g, project))
        if dag is not None:
            dags[dag.dag_id] = dag
    for file_key in [key for key in project.broken if key not in before]:
        dag = broken_dag(file_key, project.broken[file_key])
        dags[dag.dag_id] = dag
    return dags


@dataclass
class _Ends:
    """A member's first task, and the task the next member waits for."""

    start: BaseOperator
    finish: BaseOperator
    started_gate: bool  # True: the next member also needs this member's start to succeed


def group_dag(group: GroupSpec, project: Project) -> DAG:
    """The members as an ordered chain of TaskGroups, then the group's summary."""
    with DAG(
        auto_register=False,  # the DAG files export what render returns, nothing half-built
        dag_id=group.dag_id,
        description=_description(group),
        doc_md=_doc_md(group, project),
        schedule=dag_schedule(group.schedule, group.timezone, _group_assets(group, project)),
        start_date=start_date(group.timezone),
        catchup=False,
        max_active_runs=1,
        tags=_tags(group),
        params=run_params(),
        default_args={"owner": group.owner, "retries": 0},
    ) as dag:
        previous: _Ends | None = None
        for index, member in enumerate(group.members):
            before = group.members[index - 1].export if index else None
            ends = _member(member, project, Membership(group.id, before))
            if previous is not None:
                _link(previous, ends)
            previous = ends
        previous.finish >> GroupSummaryOperator(
            task_id="summary",
            group_id=group.id,
            export_ids=[member.export for member in group.members],
            trigger_rule=TriggerRule.ALL_DONE,
        )
    return dag


def _member(member: GroupMember, project: Project, membership: Membership) -> _Ends:
    export = project.exports[member.export]
    with TaskGroup(
        group_id=export.id,
        tooltip=export.name,
        default_args={"owner": export.owner, "retries": export.retries},
    ):
        start = EmptyOperator(task_id="start")
        tasks = export_tasks(export, refresh_dependencies(export, project), membership)
        chain(start, *tasks)
        finish = tasks[-1]
        if member.continue_on_failure:
            finish = EmptyOperator(task_id="done", trigger_rule=TriggerRule.ALL_DONE)
            tasks[-1] >> finish
    return _Ends(start=start, finish=finish, started_gate=member.continue_on_failure)


def _link(previous: _Ends, following: _Ends) -> None:
    upstream = [previous.start, previous.finish] if previous.started_gate else [previous.finish]
    upstream >> following.start


def _group_assets(group: GroupSpec, project: Project) -> list:
    """For schedule: refresh, the refreshes of everything the members read."""
    names = []
    for member in group.members:
        export = project.exports[member.export]
        names += [n for n in refresh_dependencies(export, project) if n not in names]
    return [refresh_asset(name, project) for name in names]


def _tags(group: GroupSpec) -> list[str]:
    schedule = group.schedule if " " not in group.schedule else "cron"
    tags = ["ferry", "group", f"schedule:{schedule}"]
    return tags + [tag for tag in group.tags if tag not in tags]


def _description(group: GroupSpec) -> str:
    members = " -> ".join(member.export for member in group.members)
    text = f"{group.name}: {members}"
    if group.schedule == "off":
        return f"[{status_note(group.id, 'off', None)}] {text}"
    return text


def _doc_md(group: GroupSpec, project: Project) -> str:
    lines = [
        f"{number}. `{m.export}`: {project.exports[m.export].name}"
        + (" (the next member runs even if this one fails)" if m.continue_on_failure else "")
        for number, m in enumerate(group.members, start=1)
    ]
    return (
        f"## {group.name}\n\n{group.description}\n\nOwner: {group.owner}. Definition: "
        f"`{project.files.get(f'groups:{group.id}')}`. Schedule: `{group.schedule}` "
        f"({group.timezone}).\n\n### Members, in order\n" + "\n".join(lines) + "\n\n"
        "A member runs only if the one before it succeeded, unless that one says "
        "continue_on_failure. The summary task sends the group's one notification.\n"
    )


class GroupSummaryOperator(BaseOperator):
    """Report a group run: each member's outcome, one notification, fail if one failed.

    Args:
        group_id: The group's id.
        export_ids: The members, in order.
    """

    ui_color = "#fdebd0"

    def __init__(self, *, group_id: str, export_ids: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.group_id = group_id
        self.export_ids = export_ids

    def execute(self, context: Context) -> dict:
        from ferry import history

        run_id = context["dag_run"].run_id
        membership = Membership(self.group_id)
        group_run_id = membership.group_run_id(run_id)
        records = [(e, history.get_run(run_info(context, e).job_run_id)) for e in self.export_ids]
        history.stamp_group_run([r.job_run_id for _, r in records if r], group_run_id)
        outcome = group_outcome([record for _, record in records])
        self.log.info("Group run %s %s", group_run_id, outcome)
        for export_id, record in records:
            self.log.info("  %s: %s", export_id, record.summary() if record else "did not run")
        _notify_group(self.group_id, group_run_id, outcome, records, context, self.log)
        if outcome == "failed":
            raise AirflowFailException(f"Group run {group_run_id} failed: {_failed(records)}")
        return {"group_run_id": group_run_id, "outcome": outcome}


def group_outcome(records: list) -> str:
    """failed if a member failed; incomplete if one did not run; else empty or success."""
    outcomes = [record.outcome if record else "not run" for record in records]
    if any(outcome in ("failed", "stopped") for outcome in outcomes):
        return "failed"
    if any(outcome in ("not run", "skipped") for outcome in outcomes):
        return "incomplete"
    return "empty" if all(outcome == "empty" for outcome in outcomes) else "success"


def _failed(records: list) -> str:
    return "; ".join(
        f"{export_id}: {record.reason}"
        for export_id, record in records
        if record and record.outcome in ("failed", "stopped")
    )


def _notify_group(group_id, group_run_id, outcome, records, context: Context, log) -> None:
    from ferry import notify
    from ferry.definitions import current_project

    group = current_project().groups.get(group_id)
    targets = notify.targets_for(group.notify, outcome) if group else []
    if targets:
        link = notify.run_url(context["ti"].dag_id, context["dag_run"].run_id)
        notice = notify.group_notice(group.name, group_run_id, outcome, records, link)
        notify.send(targets, notice, log=log)
