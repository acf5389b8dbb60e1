"""System refresh of the demo warehouse: ingest new rows, unify profiles, refresh segments.

Its task publish lists an asset per table and segment it refreshes as outlets, as any
team's refresh DAG does (ferry.refresh.refreshed): exports scheduled `refresh` (the default)
run on them, and exports on a cron wait (wait_for_refresh) while a run of this DAG has not
finished publish. It is created paused (it rewrites the warehouse, and the tests choose
when it runs); scripts/start unpauses it and starts one run once Airflow answers
(ferry.kickoff), so the demo's exports scheduled after it run at once;
FERRY_START_REFRESH=0 leaves it paused. Refreshes done outside Airflow announce
themselves with POST /api/v2/assets/events.

Part of the demo: a team that points Ferry at its own warehouse deletes this file with
plugins/ferry_demo/ (its warehouse's own refresh emits the same assets). Kept thin: it reads
YAML (which segments exist) and builds the DAG; the work is in ferry_demo.refresh, imported
inside the tasks.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Param, setup, task, teardown

from ferry.paths import include_dir
from ferry.refresh import refreshed
from ferry.spec.loader import load_project
from ferry_demo.refresh import REFRESHED_TABLES

REFRESHED = refreshed(*REFRESHED_TABLES, segments=sorted(load_project(include_dir()).segments))

with DAG(
    dag_id="ferry_refresh",
    description="Refresh the demo warehouse and tell the exports that depend on it",
    doc_md=__doc__,
    schedule="@hourly",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=True,
    tags=["ferry", "refresh"],
    params={"new_profiles": Param(200, type="integer", minimum=0, title="Incoming records")},
    default_args={"owner": "ferry", "retries": 1, "retry_delay": dt.timedelta(seconds=30)},
):

    @setup
    @task
    def begin_refresh(**context) -> dict:
        """Copy the warehouse to the work file."""
        from dataclasses import asdict

        from ferry import paths
        from ferry_demo import refresh as warehouse_refresh

        run = context["dag_run"]
        now = run.data_interval_end or run.logical_date or run.run_after
        batch = warehouse_refresh.begin(
            paths.warehouse_path(), now=now, new_profiles=int(context["params"]["new_profiles"])
        )
        return asdict(batch)

    @task
    def ingest(batch: dict) -> dict:
        """New customer records, contacts and leads from the sources."""
        from ferry_demo import refresh as warehouse_refresh

        return warehouse_refresh.ingest(warehouse_refresh.Batch(**batch))

    @task
    def unify_profiles(batch: dict) -> dict:
        """Merge incoming customer records into profiles by email; add the new ones."""
        from ferry_demo import refresh as warehouse_refresh

        return warehouse_refresh.unify(warehouse_refresh.Batch(**batch))

    @task
    def refresh_segments(batch: dict) -> dict:
        """Recompute every segment's members."""
        from ferry.definitions import current_project
        from ferry_demo import refresh as warehouse_refresh

        batch_ = warehouse_refresh.Batch(**batch)
        return warehouse_refresh.refresh_memberships(batch_, current_project())

    @task(outlets=REFRESHED)
    def publish(batch: dict, **context) -> None:
        """Swap the refreshed copy in; success emits the tables' and segments' assets."""
        from ferry import paths
        from ferry_demo import refresh as warehouse_refresh

        warehouse_refresh.publish(warehouse_refresh.Batch(**batch), paths.warehouse_path())
        for asset in REFRESHED:
            context["outlet_events"][asset].extra = {"batch": batch["number"], "at": batch["now"]}

    @teardown
    @task
    def end_refresh(batch: dict) -> None:
        """Drop the work file, whether the refresh was published or not."""
        from ferry_demo import refresh as warehouse_refresh

        warehouse_refresh.end(warehouse_refresh.Batch(**batch))

    begun = begin_refresh()
    (
        ingest(begun)
        >> unify_profiles(begun)
        >> refresh_segments(begun)
        >> publish(begun)
        >> end_refresh(begun)
    )
