"""Render a loaded Project into Airflow DAGs: one per export, one per broken definition file.

Only this package imports Airflow. Rendering reads YAML and builds objects; it never opens
the warehouse, the network or a heavy library, because it runs on every DAG-folder parse.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, BaseOperator, Param

from ferry import pipeline
from ferry.dag_ids import broken_dag_id
from ferry.pipeline import Kind, Step
from ferry.render.operators import (
    DeliverOperator,
    ExportStepOperator,
    FinalizeOperator,
    Membership,
    RecordFailure,
)
from ferry.render.schedule import (
    dag_schedule,
    end_date,
    export_asset,
    start_date,
    warehouse_asset,
)
from ferry.render.sensors import RefreshSensor
from ferry.run_params import MAX_IDS
from ferry.spec.errors import DefinitionError, shorten
from ferry.spec.loader import Project
from ferry.spec.models import ExportSpec, SegmentSource
from ferry.spec.reader import display_name
from ferry.spec.schedule import DEACTIVATED, export_status, status_note


def render_project(project: Project) -> dict[str, DAG]:
    """Every DAG of the project, by dag_id: valid exports and one per broken file.

    An export that fails to render becomes a broken file too (see isolated), so it shows
    as its own error DAG and never takes the file's other DAGs with it.
    """
    dags = {}
    for export in project.exports.values():
        dag = isolated(
            project,
            f"exports:{export.id}",
            lambda e=export: export_dag(e, project),
        )
        if dag is not None:
            dags[dag.dag_id] = dag
    for file_key, errors in project.broken.items():
        dag = broken_dag(file_key, errors)
        dags[dag.dag_id] = dag
    return dags


def render_each(
    project: Project, folder: str, specs: Iterable, build: Callable[[Any], DAG]
) -> dict[str, DAG]:
    """build(spec) for each spec of one folder (groups, imports), by dag_id; a spec that
    fails to render gets its file's error DAG here, where the failure is seen."""
    dags, before = {}, set(project.broken)
    for spec in specs:
        dag = isolated(project, f"{folder}:{spec.id}", lambda s=spec: build(s))
        if dag is not None:
            dags[dag.dag_id] = dag
    for file_key in [key for key in project.broken if key not in before]:
        dag = broken_dag(file_key, project.broken[file_key])
        dags[dag.dag_id] = dag
    return dags


def isolated(project: Project, file_id: str, build: Callable[[], DAG]) -> DAG | None:
    """build(), or None after recording its exception as the definition file's error.

    The loader refuses every value known to make Airflow raise; this is the net for the
    ones nobody has found yet, so the error names the file and asks for a report.
    """
    try:
        return build()
    except Exception as error:
        path = project.files[file_id]
        text = shorten(str(error), 200, quote=False)
        problem = f"Airflow refused it: {type(error).__name__}: {text}"
        hint = "change the value it names; please report that ferry validate missed it"
        project.mark_broken(
            path, [DefinitionError(display_name(path, project.root), problem, hint=hint)]
        )
        return None


def refresh_dependencies(export: ExportSpec, project: Project) -> list[str]:
    """What an export reads and so must not read mid-refresh: its table or its segment."""
    if export.depends_on is not None:
        return list(export.depends_on)
    if isinstance(export.source, SegmentSource):
        return [export.source.segment]
    return [project.table_of(export)]  # a table export's or a report's


def refresh_asset(name: str, project: Project):
    """The asset whose update means `name` (a table, segment or export) has fresh data."""
    if name in project.segments:
        return warehouse_asset(name, segment=True)
    if name in project.tables:
        return warehouse_asset(name)
    return export_asset(name)


def refresh_targets(export: ExportSpec, project: Project) -> dict[str, str]:
    """What wait_for_refresh watches: each dependency with the URI of its refresh asset."""
    names = refresh_dependencies(export, project)
    return {name: refresh_asset(name, project).uri for name in names}


def export_dag(export: ExportSpec, project: Project) -> DAG:
    """One export as wait_for_refresh -> checks -> extract -> validate -> deliver_* -> finalize.

    A disabled or detached export renders paused and without a schedule: pausing only
    applies when a DAG is first created, so an unpaused DAG must lose its schedule too.
    """
    depends_on = refresh_dependencies(export, project)
    status = export_status(export)
    schedule = dag_schedule(
        export.schedule, export.timezone, [refresh_asset(name, project) for name in depends_on]
    )
    with DAG(
        auto_register=False,  # the DAG files export what render returns, nothing half-built
        dag_id=export.dag_id,
        description=_description(export, status),
        doc_md=_doc_md(export, project, status),
        schedule=None if status in DEACTIVATED else schedule,
        start_date=start_date(export.timezone),
        end_date=end_date(export.expires, export.timezone, export.schedule),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=status in DEACTIVATED,
        tags=_tags(export, status),
        params=run_params(),
        default_args={"owner": export.owner, "retries": export.retries},
    ) as dag:
        export_tasks(pipeline.export_steps(export), export, refresh_targets(export, project))
    return dag


def export_tasks(
    steps: tuple[Step, ...],
    export: ExportSpec,
    depends_on: dict[str, str],
    membership: Membership | None = None,
) -> dict[str, BaseOperator]:
    """The operators of steps (ferry.pipeline's description), wired to their upstreams.

    One operator class per step kind; by task id (as written, without a TaskGroup's
    prefix). Every step that records_failure records the run as failed if it fails for
    good (RecordFailure).
    """
    tasks: dict[str, BaseOperator] = {}
    for step in steps:
        upstreams = [tasks[task_id] for task_id in step.upstreams]
        task = _operator(step, export, depends_on, membership, upstreams)
        if upstreams:
            task.set_upstream(upstreams)
        tasks[step.task_id] = task
    return tasks


def _operator(
    step: Step,
    export: ExportSpec,
    depends_on: dict[str, str],
    membership: Membership | None,
    upstreams: list[BaseOperator],
) -> BaseOperator:
    common: dict = {"task_id": step.task_id, "trigger_rule": step.trigger_rule}
    if step.backoff:
        common["retry_exponential_backoff"] = True  # see operators.retry_defaults
    if step.pool:
        common["pool"] = step.pool
    if step.kind is Kind.GATE:
        return EmptyOperator(**common)
    common["export_id"] = export.id
    if step.records_failure:
        common["on_failure_callback"] = RecordFailure(export.id, membership)
    if step.kind is Kind.WAIT:
        wait = step.wait
        return RefreshSensor(
            depends_on=depends_on,
            poke_interval=wait.poke_interval,
            timeout=wait.timeout,
            mode=wait.mode,
            **common,
        )
    if step.kind is Kind.PLAN:
        return ExportStepOperator(step=step.task_id, **common)
    if step.kind is Kind.DELIVER:
        return DeliverOperator(destination=step.destination, **common)
    if step.kind is Kind.FINALIZE:
        return FinalizeOperator(
            deliver_task_ids=[task.task_id for task in upstreams],  # with a TaskGroup's prefix
            outlets=[export_asset(export.id)],
            membership=membership,
            **common,
        )
    raise ValueError(f"an export has no {step.kind} step ({step.task_id})")


def run_params() -> dict[str, Param]:
    """On-demand run options: a date range instead of the interval, and ids to look up.

    Each may be left empty: "null" among its types makes Airflow's trigger form show it as
    optional (no asterisk). The ids have no item type, so the form shows one id per line
    while the REST API keeps taking numbers, and no maxItems: Airflow's refusal would echo
    all the ids; ferry.run_params checks the count and every item, naming the fix.
    """
    optional_date = {"type": ["null", "string"], "format": "date"}
    return {
        "date_from": Param(
            None, title="From date", **optional_date,
            description="First day to export (YYYY-MM-DD), included. Either date replaces "
            "the run's interval; both empty: the interval",
        ),
        "date_to": Param(
            None, title="To date", **optional_date,
            description="Last day to export (YYYY-MM-DD), included; empty: no last day",
        ),
        "ids": Param(
            None, type=["null", "array"], title="Ids",
            description=f"Export only rows with these keys, one per line (up to {MAX_IDS:,}; "
            "e.g. a dispute lookup); empty: every row",
        ),
    }  # fmt: skip


def _tags(export: ExportSpec, status: str) -> list[str]:
    schedule = export.schedule if " " not in export.schedule else "cron"
    tags = ["ferry", "export", export.kind, f"schedule:{schedule}"]
    if isinstance(export.source, SegmentSource):
        tags.append(f"target:{export.target}")
    if status in DEACTIVATED:
        tags += ["inactive", status]
    elif status == "expired":
        tags.append("expired")
    return tags + [tag for tag in export.tags if tag not in tags]


def _description(export: ExportSpec, status: str) -> str:
    text = export.name + (f": {export.description}" if export.description else "")
    note = status_note(export.id, status, export.expires)
    return f"[{note}] {text}" if note else text


def _doc_md(export: ExportSpec, project: Project, status: str) -> str:
    source = project.files.get(f"exports:{export.id}")
    resolved = json.dumps(export.model_dump(mode="json", by_alias=True), indent=2)
    note = status_note(export.id, status, export.expires) or "active"
    return (
        f"## {export.name}\n\n{export.description}\n\n"
        f"Owner: {export.owner}. Definition: `{source}`.\n\n"
        f"Status: **{status}**: {note}. Schedule: `{export.schedule}` ({export.timezone})"
        f"{f', expires {export.expires}' if export.expires else ''}.\n\n"
        f"### Resolved definition\n```json\n{resolved}\n```\n"
    )


def broken_dag(file_key: str, errors: list[DefinitionError]) -> DAG:
    """A DAG that shows why a definition did not load, and fails if anyone runs it."""
    listing = "\n".join(f"- {error}" for error in errors)
    with DAG(
        auto_register=False,  # the DAG files export what render returns, nothing half-built
        dag_id=broken_dag_id(file_key),
        description=f"Definition error: {errors[0]}",
        doc_md=f"## This definition did not load\n\n{listing}\n",
        schedule=None,
        tags=["ferry", "broken"],
        default_args={"owner": "ferry", "retries": 0},
    ) as dag:
        ExportStepOperator(
            task_id=pipeline.DEFINITION_ERROR.task_id,
            step=pipeline.DEFINITION_ERROR.task_id,
            export_id=file_key,
        )
    return dag
