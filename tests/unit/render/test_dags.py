"""Rendering is isolated per definition, every error DAG id is one Airflow accepts, and an
export DAG is ferry.pipeline's description of the run, one operator class per step kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.spec.loader import broken_key, load_project
from include_copy import copy_include

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def include(tmp_path: Path) -> Path:
    return copy_include(tmp_path)


def test_an_export_airflow_refuses_becomes_its_own_error_dag(include):
    """A spec that slipped past the checks (model_copy skips them) breaks only itself."""
    from ferry.render.dags import render_project

    project = load_project(include)
    bad = project.exports["daily_lead_backup"].model_copy(update={"tags": ["t" * 101]})
    project.exports["daily_lead_backup"] = bad
    dags = render_project(project)
    others = {f"export__{e}" for e in project.exports if e != "daily_lead_backup"}
    assert others and others <= set(dags)
    assert "export__daily_lead_backup" not in dags
    broken = dags["ferry_broken__exports.daily_lead_backup"]
    assert "tag cannot be longer than 100 characters" in broken.doc_md
    [error] = project.errors
    assert str(error).startswith(
        "include/exports/daily_lead_backup.yaml -> Airflow refused it: ValueError: tag cannot"
    )


def test_a_group_airflow_refuses_becomes_its_own_error_dag(include):
    from ferry.render.groups import render_groups

    project = load_project(include)
    [group_id] = project.groups
    project.groups[group_id] = project.groups[group_id].model_copy(update={"tags": ["t" * 101]})
    dags = render_groups(project)
    assert list(dags) == [f"ferry_broken__groups.{group_id}"]
    assert "tag cannot be longer" in dags[f"ferry_broken__groups.{group_id}"].doc_md


@pytest.mark.parametrize(
    "names",
    [
        ("x.yaml", "x.yml", "X.yaml", "x .yaml"),
        ("b" * 240 + ".yaml", "b" * 239 + "c.yaml", "B" * 240 + ".yaml"),
    ],
)
def test_error_dag_ids_are_valid_and_distinct(names):
    from airflow.sdk.definitions._internal.node import validate_key

    keys = {broken_key(Path("include/exports") / name) for name in names}
    assert len(keys) == len(names)
    for key in keys:
        validate_key(f"ferry_broken__{key}")


def test_a_clean_file_name_keeps_its_readable_key():
    assert broken_key(Path("include/exports/daily_lead_backup.yaml")) == (
        "exports.daily_lead_backup"
    )


def test_a_broken_file_with_a_240_character_name_renders_its_error_dag(include):
    from ferry.render.dags import render_project

    (include / "exports" / ("b" * 240 + ".yaml")).write_text("id: b\n")
    project = load_project(include)
    dags = render_project(project)
    assert {f"export__{e}" for e in project.exports} <= set(dags)
    [broken] = [dag_id for dag_id in dags if dag_id.startswith("ferry_broken__")]
    assert len(broken) <= 250 and "name -> required field is missing" in dags[broken].doc_md


def test_an_export_dag_is_its_pipeline_description_with_one_operator_class_per_kind(include):
    import datetime as dt

    from ferry import pipeline
    from ferry.render.dags import export_dag
    from ferry.render.operators import RecordFailure
    from ferry.render.schedule import export_asset

    project = load_project(include)
    export = project.exports["daily_lead_backup"]
    dag = export_dag(export, project)
    steps = pipeline.export_steps(export)

    assert sorted(dag.task_ids) == sorted(step.task_id for step in steps)
    classes = {
        pipeline.Kind.WAIT: "RefreshSensor", pipeline.Kind.PLAN: "ExportStepOperator",
        pipeline.Kind.DELIVER: "DeliverOperator", pipeline.Kind.FINALIZE: "FinalizeOperator",
    }  # fmt: skip
    for step in steps:
        task = dag.get_task(step.task_id)
        assert task.upstream_task_ids == set(step.upstreams), step.task_id
        assert type(task).__name__ == classes[step.kind]
        assert task.retries == export.retries and task.trigger_rule == "all_success"
        [callback] = task.on_failure_callback
        assert isinstance(callback, RecordFailure) and callback.export_id == export.id
        if step.backoff:
            assert task.retry_exponential_backoff == 2.0, step.task_id
            assert task.retry_delay == dt.timedelta(seconds=30), step.task_id
            assert task.max_retry_delay == dt.timedelta(minutes=10), step.task_id
    wait = dag.get_task("wait_for_refresh")
    assert (wait.poke_interval, wait.timeout, wait.mode) == (30, 7200, "reschedule")
    assert wait.deferrable and wait.depends_on == {"lead": "ferry://warehouse/table/lead"}
    assert dag.get_task("extract").step == "extract"
    finalize = dag.get_task("finalize")
    assert finalize.deliver_task_ids == ["deliver_download"] and finalize.membership is None
    assert finalize.outlets == [export_asset(export.id)]


def _form_fields(dag) -> dict:
    """The params as Airflow's trigger form gets them: through the DAG's serialization, as
    the API's DAG details dump them ({value, schema, description, source})."""
    from airflow.serialization.serialized_objects import DagSerialization

    served = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    return {name: served.params.get_param(name).dump() for name in served.params}


def _required_in_the_form(schema: dict) -> bool:
    """Airflow UI's rule (FlexibleForm/isParamRequired.tsx): a typed param is required
    unless "null" is among its types."""
    kind = schema.get("type")
    return bool(kind) and not (isinstance(kind, list) and "null" in kind)


def test_every_run_param_is_optional_in_the_trigger_form_and_described(include):
    from ferry.render.dags import export_dag

    project = load_project(include)
    fields = _form_fields(export_dag(project.exports["daily_lead_backup"], project))

    assert set(fields) == {"date_from", "date_to", "ids"}
    for name, param in fields.items():
        assert not _required_in_the_form(param["schema"]), name
        assert param["value"] is None, name
        assert len(param["description"] or "") > 20, name
    ids = fields["ids"]["schema"]
    assert ids["type"] == ["null", "array"] and "type" not in ids.get("items", {})


@pytest.mark.parametrize(
    "ids", [None, [], ["101", "A-7"], [101, 102]], ids=["none", "empty", "text", "numbers"]
)
def test_the_ids_param_takes_no_ids_or_a_list_of_text_or_numbers(include, ids):
    from airflow.serialization.definitions.param import SerializedParam

    from ferry.render.dags import export_dag
    from ferry.run_params import parse_run_params

    project = load_project(include)
    schema = _form_fields(export_dag(project.exports["daily_lead_backup"], project))["ids"][
        "schema"
    ]

    assert SerializedParam(ids, **schema).resolve(raises=True) == ids  # Airflow's check
    assert parse_run_params(ids=ids).ids == tuple(ids or ())


def _rendered_tasks(include: Path) -> tuple[list, list]:
    """(every task of the project's DAGs, the deliver_* ones among them)."""
    from ferry.render.dags import export_dag
    from ferry.render.groups import group_dag

    project = load_project(include)
    dags = [export_dag(export, project) for export in project.exports.values()]
    dags += [group_dag(group, project) for group in project.groups.values()]
    tasks = [task for dag in dags for task in dag.tasks]
    delivers = [task for task in tasks if task.task_id.split(".")[-1].startswith("deliver_")]
    assert len(delivers) >= len(project.exports) + 1  # the group's members deliver too
    return tasks, delivers


def test_every_delivery_takes_a_slot_of_the_pool_named_and_the_settings_create(
    include, monkeypatch
):
    from ferry.devserver import airflow_env, convert_settings
    from ferry.pipeline import DELIVERY_POOL, DELIVERY_POOL_ENV

    monkeypatch.delenv(DELIVERY_POOL_ENV, raising=False)
    devserver = airflow_env(include.parent / "airflow", 8080)  # what scripts/start runs with
    monkeypatch.setenv(DELIVERY_POOL_ENV, devserver[DELIVERY_POOL_ENV])
    tasks, delivers = _rendered_tasks(include)

    assert {task.pool for task in delivers} == {DELIVERY_POOL}
    assert {task.pool for task in tasks if task not in delivers} == {"default_pool"}
    pools = convert_settings(ROOT / "airflow_settings.yaml")["pools"]
    assert pools[DELIVERY_POOL]["slots"] > 0


def test_without_a_pool_named_deliveries_stay_in_the_default_pool(include, monkeypatch):
    """A deployment that has not created the pool must not find its deliveries stuck:
    the scheduler never runs a task whose pool does not exist."""
    from ferry.pipeline import DELIVERY_POOL_ENV

    monkeypatch.delenv(DELIVERY_POOL_ENV, raising=False)
    tasks, _ = _rendered_tasks(include)

    assert {task.pool for task in tasks} == {"default_pool"}


def test_a_report_without_depends_on_waits_for_the_refresh_of_its_table(include):
    from ferry.render.dags import refresh_dependencies, render_project

    project = load_project(include)
    report = project.exports["daily_leads_by_source"].model_copy(update={"depends_on": None})
    project.exports["daily_leads_by_source"] = report
    assert refresh_dependencies(report, project) == ["lead"]
    assert "export__daily_leads_by_source" in render_project(project)
