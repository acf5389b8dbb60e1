"""Render each import (include/imports/) as a DAG import__<id>: wait_for_file -> load -> finalize.

The steps are ferry.pipeline_imports'; schedule, time zone, enabled, tags and retries work
as an export's. finalize emits the table's refresh asset (ferry.refresh.refreshed), so
exports scheduled `refresh` on that table run next, and the exports' wait_for_refresh sees
an import run of the table as a refresh in progress. Import files broken at load render
with the exports (ferry.render.dags.render_project) as ferry_broken__imports.<id>.
"""

from __future__ import annotations

import json

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, BaseOperator, Param

from ferry import pipeline_imports
from ferry.pipeline import Kind, Step
from ferry.render.dags import render_each
from ferry.render.import_operators import (
    FileSensor,
    ImportFinalizeOperator,
    LoadOperator,
    RecordImportFailure,
)
from ferry.render.operators import Membership
from ferry.render.schedule import dag_schedule, start_date, warehouse_asset
from ferry.spec.loader import Project
from ferry.spec.models import ImportSpec

PAUSED = ("disabled",)


def render_imports(project: Project) -> dict[str, DAG]:
    """One DAG per valid import, by dag_id; one that fails to render gets its error DAG."""
    return render_each(
        project, "imports", project.imports.values(), lambda spec: import_dag(spec, project)
    )


def import_dag(spec: ImportSpec, project: Project) -> DAG:
    """One import as wait_for_file -> load -> finalize; disabled: paused, no schedule."""
    status = "active" if spec.enabled else "disabled"
    schedule = dag_schedule(spec.schedule, spec.timezone, [warehouse_asset(spec.table)])
    with DAG(
        auto_register=False,  # the DAG files export what render returns, nothing half-built
        dag_id=spec.dag_id,
        description=_description(spec, status),
        doc_md=_doc_md(spec, project),
        schedule=None if status in PAUSED else schedule,
        start_date=start_date(spec.timezone),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=status in PAUSED,
        tags=_tags(spec, status),
        params=import_params(),
        default_args={"owner": spec.owner, "retries": spec.retries},
    ) as dag:
        import_tasks(pipeline_imports.import_steps(spec), spec)
    return dag


def import_params() -> dict[str, Param]:
    """On-demand run options of an import: force a reload of files loaded before."""
    return {
        "force": Param(
            False, type="boolean", title="Force",
            description="Load the files even if the import's ledger says they were loaded "
            "(append); a run already loaded is loaded again",
        )
    }  # fmt: skip


def import_tasks(
    steps: tuple[Step, ...], spec: ImportSpec, membership: Membership | None = None
) -> dict[str, BaseOperator]:
    """The operators of an import's steps, wired to their upstreams, by task id as written."""
    tasks: dict[str, BaseOperator] = {}
    for step in steps:
        upstreams = [tasks[task_id] for task_id in step.upstreams]
        task = _operator(step, spec, membership, upstreams)
        if upstreams:
            task.set_upstream(upstreams)
        tasks[step.task_id] = task
    return tasks


def _operator(
    step: Step, spec: ImportSpec, membership: Membership | None, upstreams: list[BaseOperator]
) -> BaseOperator:
    common: dict = {"task_id": step.task_id, "trigger_rule": step.trigger_rule}
    if step.backoff:
        common["retry_exponential_backoff"] = True  # see operators.retry_defaults
    if step.kind is Kind.GATE:
        return EmptyOperator(**common)
    common["import_id"] = spec.id
    if step.records_failure:
        common["on_failure_callback"] = RecordImportFailure(spec.id, membership)
    if step.kind is Kind.WAIT:
        return FileSensor(
            poke_interval=step.wait.poke_interval.total_seconds(),
            timeout=step.wait.timeout.total_seconds(),
            mode=step.wait.mode,
            **common,
        )
    if step.kind is Kind.PLAN:
        return LoadOperator(**common)
    if step.kind is Kind.FINALIZE:
        return ImportFinalizeOperator(
            load_task_id=upstreams[0].task_id,  # with a TaskGroup's prefix
            outlets=[warehouse_asset(spec.table)],
            membership=membership,
            **common,
        )
    raise ValueError(f"an import has no {step.kind} step ({step.task_id})")


def _tags(spec: ImportSpec, status: str) -> list[str]:
    schedule = spec.schedule if " " not in spec.schedule else "cron"
    tags = ["ferry", "import", f"mode:{spec.mode}", f"table:{spec.table}", f"schedule:{schedule}"]
    if status in PAUSED:
        tags += ["inactive", status]
    return tags + [tag for tag in spec.tags if tag not in tags]


def _description(spec: ImportSpec, status: str) -> str:
    text = spec.name + (f": {spec.description}" if spec.description else "")
    if status in PAUSED:
        return f"[inactive: enabled is false in {spec.id}'s definition] {text}"
    if spec.schedule == "off":
        return f"[schedule off (runs only on demand)] {text}"
    return text


def _doc_md(spec: ImportSpec, project: Project) -> str:
    source = project.files.get(f"imports:{spec.id}")
    resolved = json.dumps(spec.model_dump(mode="json", by_alias=True), indent=2)
    return (
        f"## {spec.name}\n\n{spec.description}\n\n"
        f"Owner: {spec.owner}. Definition: `{source}`. Loads table `{spec.table}` by "
        f"**{spec.mode}**. Schedule: `{spec.schedule}` ({spec.timezone}).\n\n"
        f"### Resolved definition\n```json\n{resolved}\n```\n"
    )
