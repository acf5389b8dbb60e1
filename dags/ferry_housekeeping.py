"""Housekeeping: delete download folders older than their export's retention_days (on this
machine, and under the staging prefix when staging is on S3).

Kept thin: definitions are read inside the task, not while this file parses.
"""

from __future__ import annotations

import datetime as dt
import logging

from airflow.sdk import DAG, task

log = logging.getLogger(__name__)

with DAG(
    dag_id="ferry_housekeeping",
    description="Delete downloads older than each export's retention_days (default 30)",
    schedule="@daily",
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["ferry", "housekeeping"],
    default_args={"owner": "ferry", "retries": 1, "retry_delay": dt.timedelta(minutes=5)},
):

    @task
    def purge_downloads() -> list[str]:
        """Delete expired run folders under $FERRY_HOME/downloads and, when staging is on
        S3, under <staging>/_downloads/; log each one."""
        from ferry import delivery, paths
        from ferry.delivery.housekeeping import retention_of
        from ferry.spec.loader import load_project

        retention, default_days = retention_of(load_project(paths.include_dir()), log)
        now = dt.datetime.now(dt.UTC)
        deleted = delivery.purge_downloads(
            paths.downloads_dir(), retention, now=now, default_days=default_days, log=log
        )
        log.info("Deleted %d download folder(s) under %s", len(deleted), paths.downloads_dir())
        shared = delivery.purge_shared_downloads(
            retention, now=now, default_days=default_days, log=log
        )
        log.info("Deleted %d run folder(s) under the staging's _downloads/", len(shared))
        return [str(path) for path in deleted] + shared

    purge_downloads()
