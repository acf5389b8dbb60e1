"""The plan: which columns leave, under which names, with which PII handling."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import duckdb
import pytest

from ferry.engine import extract
from ferry.manifest import read_manifest
from ferry.plan import build_plan
from ferry.run_info import RunInfo
from ferry.spec.loader import load_project
from ferry.sql import FILES
from ferry.staging import run_location

from .engine import chosen_rows
from .spec.helpers import team_include

ROOT = Path(__file__).resolve().parents[2]


def test_a_plan_reads_a_teams_own_contact_and_account_tables_with_their_types(tmp_path):
    project = load_project(team_include(tmp_path))
    run = RunInfo(export_id="people_of_big_companies", run_id="manual__1")
    location = run_location(str(tmp_path / "staging"), run.export_id, run.safe_run_id)
    plan = build_plan(project, run.export_id, run, location, FILES)
    assert plan.table == "crm_people" and plan.tables_read == ("crm_people", "crm_companies")
    assert plan.read_types["crm_companies"] == {"company_id": "BIGINT", "employees": "INTEGER"}
    assert plan.where.text.startswith('"company_id" IN (SELECT "company_id" FROM "crm_companies"')


def test_fields_all_leaves_out_pii_nobody_decided_on():
    project = load_project(ROOT / "include")
    run = RunInfo("daily_lead_backup", "r1")
    plan = build_plan(project, run.export_id, run, run_location("/tmp", run.export_id, "r1"))
    names = [column.name for column in plan.columns]
    assert "first_name" in plan.excluded_pii and "first_name" not in names
    assert {c.name: c.pii.action for c in plan.columns if c.pii} == {
        "email": "hash",
        "phone": "mask",
    }


def test_email_domain_is_derived_from_the_email(tmp_path, warehouse):
    include = tmp_path / "include"
    include.mkdir()
    (include / "warehouse").mkdir()
    (include / "warehouse" / "tables.yaml").write_text(
        (ROOT / "include/warehouse/tables.yaml").read_text()
    )
    (include / "exports").mkdir()
    (include / "exports" / "domains.yaml").write_text(
        "id: domains\nname: Domains\nsource: {table: lead}\n"
        "fields: [lead_id, {field: email, as: email_domain, derive: email_domain}]\n"
        "destinations: [{type: download}]\n"
    )
    project = load_project(include)
    run = RunInfo("domains", "r1", data_interval_end=dt.datetime(2026, 11, 24))
    plan = _plan(project, run, tmp_path / "staging")
    manifest = extract(plan, source=warehouse, pii_key=None)
    delivered = (plan.staging_dir / manifest.data_files[0].name).read_text().splitlines()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        emails = con.execute("SELECT lead_id, email FROM lead ORDER BY lead_id").fetchall()
    assert delivered[0] == "lead_id,email_domain"
    expected = [
        f"{key},{(email or '').rsplit('@', 1)[-1].lower() if email and '@' in email else ''}"
        for key, email in emails
    ]
    assert delivered[1:] == expected


def _staging_include(tmp_path: Path) -> Path:
    include = tmp_path / "include"
    (include / "warehouse").mkdir(parents=True)
    (include / "warehouse" / "tables.yaml").write_text(
        (ROOT / "include/warehouse/tables.yaml").read_text()
    )
    (include / "exports").mkdir()
    (include / "exports" / "states.yaml").write_text(
        "id: states\nname: States\nsource: {table: lead}\nfields: [lead_id, state]\n"
        "destinations: [{type: download}]\n"
    )
    return include


@pytest.mark.parametrize("run_id", ["..", ".", "", "../other", "a/../../..", "/tmp"])
def test_a_hostile_run_id_stages_inside_its_export_and_spares_the_others(
    tmp_path, warehouse, run_id
):
    root = tmp_path / "staging"
    other = root / "other_export" / "manual__1"
    other.mkdir(parents=True)
    (other / "manifest.json").write_text("{}")
    (root / "notes.txt").write_text("kept")
    project = load_project(_staging_include(tmp_path))

    run = RunInfo("states", run_id)
    plan = build_plan(project, "states", run, run_location(str(root), "states", run.safe_run_id))
    manifest = extract(plan, source=warehouse, pii_key=None)

    assert plan.staging_dir.parent == root / "states"
    assert (plan.staging_dir / manifest.data_files[0].name).is_file()
    assert (other / "manifest.json").read_text() == "{}" and (root / "notes.txt").exists()


def test_run_ids_the_old_sanitiser_folded_together_get_separate_folders(tmp_path, warehouse):
    project = load_project(_staging_include(tmp_path))
    first_id = "manual__2026-11-20T00:00:00+00:00"
    plans = [
        _plan(project, RunInfo("states", run_id), tmp_path / "staging")
        for run_id in (first_id, first_id + "~", first_id.replace(":", "_"))
    ]
    manifests = [extract(plan, source=warehouse, pii_key=None) for plan in plans]

    assert len({plan.staging_dir for plan in plans}) == 3
    assert len({manifest.job_run_id for manifest in manifests}) == 3
    assert [read_manifest(p.staging_dir).run_id for p in plans] == [m.run_id for m in manifests]


def _guard(destinations: list[dict], **fmt) -> bool | None:
    from ferry.spec.models import ExportSpec

    project = load_project(ROOT / "include")
    spec = ExportSpec.model_validate({
        "id": "guarded", "name": "G", "source": {"table": "lead"}, "fields": ["lead_id"],
        "format": fmt, "destinations": destinations,
    })  # fmt: skip
    project.exports[spec.id] = spec
    return _plan(project, RunInfo(spec.id, "r1"), Path("/tmp")).format.formula_guard


def test_the_formula_guard_is_on_for_csv_people_open_unless_the_export_says():
    s3 = {"type": "s3", "connection": "aws", "bucket": "bucket", "path": "x/"}
    email = {"type": "email", "to": ["a@example.com"]}
    assert _guard([s3, email], type="csv") is True
    assert _guard([{"type": "download"}], type="tsv") is True
    assert _guard([s3], type="csv") is False
    assert _guard([email], type="jsonl") is False
    assert _guard([s3], type="csv", formula_guard=True) is True
    assert _guard([email], type="csv", formula_guard=False) is False


def test_a_group_member_and_the_exports_own_run_keep_apart(tmp_path, warehouse, monkeypatch):
    """group__nightly and export__states both run scheduled__...T03 (the same run id)."""
    from ferry import history

    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "ferry"))
    project = load_project(_staging_include(tmp_path))
    run_id = "scheduled__2026-12-01T03:00:00+00:00"
    own, member = RunInfo("states", run_id), RunInfo("states", run_id, group_id="nightly")
    plans = [_plan(project, run, tmp_path / "staging") for run in (own, member)]
    manifests = [extract(plan, source=warehouse, pii_key=None) for plan in plans]
    for run, outcome in ((own, "success"), (member, "failed")):
        now = dt.datetime.now(dt.UTC)
        history.record_run(
            history.RunRecord.ended(run, outcome, "", started_at=None, finished_at=now)
        )

    assert plans[0].staging_dir != plans[1].staging_dir
    assert plans[1].staging_dir.parent == tmp_path / "staging" / "states"
    assert [read_manifest(p.staging_dir).job_run_id for p in plans] == [
        m.job_run_id for m in manifests
    ], "the member's extract left the export's own staging folder as it was"
    assert member.job_run_id == "states.nightly+scheduled__2026-12-01T03~3A00~3A00~2B00~3A00"
    assert history.get_run(own.job_run_id).outcome == "success"
    assert history.get_run(member.job_run_id).outcome == "failed"


@pytest.mark.parametrize("dag_id", ["group__nightly", "export__states"])
def test_an_operators_run_knows_the_dag_it_runs_in(dag_id):
    from types import SimpleNamespace

    from ferry.render.operators import run_info

    moment = dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC)
    dag_run = SimpleNamespace(
        dag_id=dag_id, run_id="scheduled__2026-12-01T03:00:00+00:00", logical_date=moment,
        data_interval_start=moment, data_interval_end=moment, triggering_user_name=None,
        run_type=SimpleNamespace(value="scheduled"), run_after=moment,
    )  # fmt: skip
    run = run_info({"dag_run": dag_run, "params": {}}, "states")
    assert run.group_id == ("nightly" if dag_id == "group__nightly" else "")
    assert run.job_run_id.startswith("states.nightly+" if run.group_id else "states.scheduled__")


def _plan(project, run: RunInfo, root: Path):
    return build_plan(
        project, run.export_id, run, run_location(str(root), run.export_id, run.safe_run_id)
    )


# --- Which rows a run selects: a table whose every row is written down ----------------


@pytest.fixture(scope="module")
def visits_warehouse(tmp_path_factory) -> Path:
    return chosen_rows.build_warehouse(tmp_path_factory.mktemp("chosen") / "visits.duckdb")


@pytest.fixture
def visits(tmp_path, visits_warehouse):
    """Run an export of visit and return the visit_ids its CSV delivers."""
    project = chosen_rows.build_project(tmp_path)

    def run(run: RunInfo | None = None, **export) -> list[int]:
        staging = tmp_path / "staging" / str(len(list(tmp_path.glob("staging/*"))))
        plan = chosen_rows.plan_of(project, staging, run, **export)
        return chosen_rows.visit_ids(chosen_rows.delivered(plan, visits_warehouse))

    return run


def scheduled(start: dt.datetime, end: dt.datetime, **params) -> RunInfo:
    """A scheduled run of the visits export over [start, end), as Airflow gives it."""
    return RunInfo("visits", f"scheduled__{start.isoformat()}", logical_date=start,
                   data_interval_start=start, data_interval_end=end, **params)  # fmt: skip


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


WINDOW = {"window": {"column": "seen_at"}}
TENTH = (utc(2026, 3, 10), utc(2026, 3, 11))  # 10 March, the interval of a daily run


def test_a_windowed_run_sends_its_intervals_rows_from_its_start_up_to_its_end(visits):
    assert visits(scheduled(*TENTH), filters=WINDOW) == [2, 3, 4, 5, 6, 7]
    berlin = dt.timezone(dt.timedelta(hours=1))  # the same interval, written in +01:00
    same = (dt.datetime(2026, 3, 10, 1, tzinfo=berlin), dt.datetime(2026, 3, 11, 1, tzinfo=berlin))
    assert visits(scheduled(*same), filters=WINDOW) == [2, 3, 4, 5, 6, 7]
    hour = (utc(2026, 3, 10, 9), utc(2026, 3, 10, 17))  # an hourly-ish run, 09:00 to 17:00
    assert visits(scheduled(*hour), filters=WINDOW) == [4, 5]


def test_a_window_over_a_timestamptz_column_selects_the_same_rows(visits):
    filters = {"window": {"column": "seen_tz"}}
    assert visits(scheduled(*TENTH), filters=filters) == [2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    "filters",
    [{"window": {"column": "seen_tz"}}, {"date_column": "seen_tz", "dates": ["2026-03-10"]},
     {"date_column": "seen_tz", "hours": {"start": 9, "end": 17}}],
)  # fmt: skip
def test_a_worker_in_another_time_zone_selects_the_same_timestamptz_rows(visits, filters):
    """Intervals, dates and hours are UTC, whatever zone the worker's machine is set to."""
    run = scheduled(*TENTH)
    in_utc = visits(run, filters=filters)
    with chosen_rows.machine_time_zone("America/Los_Angeles"):
        assert visits(run, filters=filters) == in_utc
    assert in_utc in ([2, 3, 4, 5, 6, 7], [4, 5, 9])


def test_daily_runs_one_after_another_send_every_row_once(visits):
    days = [utc(2026, 3, 9) + dt.timedelta(days=n) for n in range(6)]
    runs = [scheduled(start, end) for start, end in itertools.pairwise(days)]
    sent = [visits(run, filters=WINDOW) for run in runs]
    assert sent == [[1], [2, 3, 4, 5, 6, 7], [8, 9], [10, 11], [12]]


def test_a_run_without_an_interval_is_not_windowed(visits):
    """A manual run without a logical date has no interval: the window chooses nothing."""
    assert visits(RunInfo("visits", "manual__1"), filters=WINDOW) == list(chosen_rows.SEEN)


def test_dates_select_whole_days_of_the_date_column(visits):
    filters = {"date_column": "seen_at", "dates": ["2026-03-10", "2026-03-12"]}
    assert visits(filters=filters) == [2, 3, 4, 5, 6, 7, 10, 11]


def test_a_date_range_includes_both_of_its_days(visits):
    filters = {"date_column": "seen_at", "date_range": {"start": "2026-03-10", "end": "2026-03-11"}}
    assert visits(filters=filters) == [2, 3, 4, 5, 6, 7, 8, 9]
    one_day = {"date_column": "seen_at", "date_range": {"start": "2026-03-12", "end": "2026-03-12"}}
    assert visits(filters=one_day) == [10, 11]


def test_hours_include_the_start_hour_and_stop_before_the_end_hour(visits):
    """hours {start: 9, end: 17}: 09:00:00 to 16:59:59.999999 of every day."""
    assert visits(filters={"date_column": "seen_at", "hours": {"start": 9, "end": 17}}) == [4, 5, 9]
    evening = {"date_column": "seen_at", "hours": {"start": 17, "end": 24}}
    assert visits(filters=evening) == [1, 6, 7, 11]


def test_calendar_filters_narrow_a_windowed_run(visits):
    filters = {**WINDOW, "date_column": "seen_at", "hours": {"start": 9, "end": 17}}
    assert visits(scheduled(*TENTH), filters=filters) == [4, 5]


# --- On-demand dates and ids -----------------------------------------------------------


@pytest.mark.parametrize("filters", [WINDOW, {"date_column": "seen_at"}])
def test_on_demand_dates_include_the_last_day_asked_for(visits, filters):
    run = RunInfo("visits", "manual__dates", date_from=dt.date(2026, 3, 11),
                  date_to=dt.date(2026, 3, 12))  # fmt: skip
    assert visits(run, filters=filters) == [8, 9, 10, 11]
    one_day = RunInfo("visits", "manual__day", date_from=dt.date(2026, 3, 10),
                      date_to=dt.date(2026, 3, 10))  # fmt: skip
    assert visits(one_day, filters=filters) == [2, 3, 4, 5, 6, 7]


def test_on_demand_dates_open_at_either_end(visits):
    since = RunInfo("visits", "manual__since", date_from=dt.date(2026, 3, 12))
    assert visits(since, filters=WINDOW) == [10, 11, 12]
    until = RunInfo("visits", "manual__until", date_to=dt.date(2026, 3, 9))
    assert visits(until, filters=WINDOW) == [1]


def test_on_demand_dates_override_the_runs_interval(visits):
    """A backfill triggered with dates on a scheduled DAG: the dates choose, not the interval."""
    run = scheduled(*TENTH, date_from=dt.date(2026, 3, 12), date_to=dt.date(2026, 3, 13))
    assert visits(run, filters=WINDOW) == [10, 11, 12]


def test_ids_select_exactly_those_keys(visits):
    assert visits(RunInfo("visits", "manual__ids", ids=(12, 3, 7))) == [3, 7, 12]
    assert visits(RunInfo("visits", "manual__text_ids", ids=("4", "+5"))) == [4, 5]
    assert visits(RunInfo("visits", "manual__unknown", ids=(999, 0, -1))) == []


def test_ids_narrow_the_window_not_widen_it(visits):
    run = scheduled(*TENTH, ids=(1, 2, 8, 7))
    assert visits(run, filters=WINDOW) == [2, 7]


def test_ids_of_a_text_key_select_exactly_those_keys(tmp_path, visits_warehouse):
    project = chosen_rows.build_project(tmp_path)
    ids = ("C'3", "ÉTÉ-24", "100", "a-1", "nope")  # a-1: keys are matched exactly, case too
    plan = chosen_rows.plan_of(
        project, tmp_path / "staging", RunInfo("visits", "manual__codes", ids=ids),
        source={"table": "coupon"}, fields=["code", "label"],
    )  # fmt: skip
    rows = chosen_rows.delivered(plan, visits_warehouse)
    assert sorted((row["code"], row["label"]) for row in rows) == sorted(
        (code, chosen_rows.COUPONS[code]) for code in ("C'3", "ÉTÉ-24", "100")
    )


def _changes_plan(changes) -> object:
    from ferry.spec.models import ExportSpec

    project = load_project(ROOT / "include")
    spec = ExportSpec.model_validate({
        "id": "changed", "name": "C", "source": {"table": "lead"},
        "fields": ["lead_id", "state"], "changes": changes, "destinations": [{"type": "download"}],
    })  # fmt: skip
    project.exports[spec.id] = spec
    return _plan(project, RunInfo(spec.id, "r1"), Path("/tmp"))


def test_a_changes_export_is_keyed_by_its_declared_key_else_the_tables():
    assert _changes_plan(None).changes is None
    by_table = _changes_plan(True)
    assert (by_table.key, by_table.changes.output) == ("lead_id", "column")
    declared = _changes_plan({"key": "state", "output": "files"})
    assert (declared.key, declared.changes.key, declared.changes.output) == (
        "state", "state", "files",
    )  # fmt: skip
