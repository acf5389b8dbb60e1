"""Render each job group (include/groups/) as one DAG group__<id>: members run in order.

The shape is ferry.pipeline.group_run's (ferry.pipeline_imports.group_run for exports and
imports); this module renders it. Each member is a TaskGroup named after its export or
import, holding that job's own tasks (ferry.render.dags.export_tasks, ferry.render.imports.
import_tasks) behind an empty `start` task:

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

from airflow.sdk import DAG, BaseOperator, Context, TaskGroup
from airflow.sdk.exceptions import AirflowFailException

from ferry import pipeline, pipeline_imports
from ferry.pipeline import Member
from ferry.render.dags import (
    export_tasks,
    refresh_asset,
    refresh_dependencies,
    refresh_targets,
    render_each,
    run_params,
)
from ferry.render.imports import import_tasks
from ferry.render.operators import Membership
from ferry.render.schedule import dag_schedule, start_date
from ferry.spec.loader import Project
from ferry.spec.models import GroupSpec
from ferry.spec.schedule import status_note


def render_groups(project: Project) -> dict[str, DAG]:
    """One DAG per valid group, by dag_id (group files broken at load render with the exports).

    A group that fails to render gets its error DAG here, where the failure is seen.
    """
    return render_each(
        project, "groups", project.groups.values(), lambda group: group_dag(group, project)
    )


def group_dag(group: GroupSpec, project: Project) -> DAG:
    """The members as an ordered chain of TaskGroups, then the group's summary."""
    run = pipeline_imports.group_run(group, project)
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
        tasks: dict[str, BaseOperator] = {}
        for member in run.members:
            tasks |= _member(member, project, Membership(group.id, member.previous))
            if member.after:
                tasks[member.start].set_upstream([tasks[task_id] for task_id in member.after])
        summary = GroupSummaryOperator(
            task_id=run.summary.task_id,
            group_id=group.id,
            export_ids=[member.export_id for member in run.members],
            trigger_rule=run.summary.trigger_rule,
        )
        summary.set_upstream([tasks[task_id] for task_id in run.summary.upstreams])
    return dag


def _member(member: Member, project: Project, membership: Membership) -> dict[str, BaseOperator]:
    """The member's steps in its TaskGroup, by group-wide task id (ids are unique across
    exports and imports: the loader refuses an import with an export's id)."""
    job = project.exports.get(member.export_id) or project.imports[member.export_id]
    with TaskGroup(
        group_id=job.id,
        tooltip=job.name,
        default_args={"owner": job.owner, "retries": job.retries},
    ):
        if job.id in project.exports:
            targets = refresh_targets(job, project)
            tasks = export_tasks(member.steps, job, targets, membership)
        else:
            tasks = import_tasks(member.steps, job, membership)
    return {task.task_id: task for task in tasks.values()}


def _group_assets(group: GroupSpec, project: Project) -> list:
    """For schedule: refresh, the refreshes of everything the exports among them read."""
    names = []
    for member in group.members:
        if member.kind == "import":
            continue  # it reads files, not the warehouse
        export = project.exports[member.export]
        names += [n for n in refresh_dependencies(export, project) if n not in names]
    return [refresh_asset(name, project) for name in names]


def _tags(group: GroupSpec) -> list[str]:
    schedule = group.schedule if " " not in group.schedule else "cron"
    tags = ["ferry", "group", f"schedule:{schedule}"]
    return tags + [tag for tag in group.tags if tag not in tags]


def _description(group: GroupSpec) -> str:
    members = " -> ".join(member.job for member in group.members)
    text = f"{group.name}: {members}"
    if group.schedule == "off":
        return f"[{status_note(group.id, 'off', None)}] {text}"
    return text


def _doc_md(group: GroupSpec, project: Project) -> str:
    jobs = {**project.exports, **project.imports}
    lines = [
        f"{number}. {m.kind} `{m.job}`: {jobs[m.job].name}"
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
        export_ids: The members (exports and imports), in order.
    """

    ui_color = "#fdebd0"

    def __init__(self, *, group_id: str, export_ids: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.group_id = group_id
        self.export_ids = export_ids

    def execute(self, context: Context) -> dict:
        from ferry import notify

        dag_run = context["dag_run"]
        summary = pipeline.summarize_group(
            self.group_id, dag_run.run_id, self.export_ids,
            link=notify.run_url(context["ti"].dag_id, dag_run.run_id), log=self.log,
        )  # fmt: skip
        if summary.outcome == "failed":
            raise AirflowFailException(
                f"Group run {summary.group_run_id} failed: {summary.failures}"
            )
        return {"group_run_id": summary.group_run_id, "outcome": summary.outcome}
