"""When a refresh of a table or segment is running, so that exports do not read it halfway.

Airflow says so: a refresh of X is running while a run of a DAG that refreshes X is running
and the task of that run that emits X's asset has not finished yet. Which DAGs refresh X is
in X's asset events (each names the DAG and task that emitted it), so any team's own DAG
counts, with two lines in it:

    from ferry.refresh import refreshed
    @task(outlets=refreshed("lead", segments=["vip"]))  # the task that publishes them

(or outlets=[Asset("ferry://warehouse/table/lead")], with no import). The same event starts
the exports scheduled `refresh`. A DAG is known as X's producer from its first event of X on.

A run that started more than STALE_AFTER ago no longer counts (a paused or stuck run must
not block exports forever); a crashed one stops counting once Airflow fails it.

A refresh run outside Airflow (a cron job on the warehouse's host) can hold a marker
per name instead (<name>.running: hold/release/refreshing), which the export's wait reads
too; markers older than STALE_AFTER are ignored likewise. The markers are where every
process reaches them: under FERRY_STAGING's prefix when it is on S3 (<prefix>/_refresh/),
else in $FERRY_HOME/refresh (one machine).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ferry import paths
from ferry.staging.location import Remote, StagingConfigError, parse_root, shared_remote

STALE_AFTER = dt.timedelta(hours=6)
# Task instance states of a task that has not finished (None: its run has not reached it).
UNFINISHED = (None, "scheduled", "queued", "running", "up_for_retry", "up_for_reschedule",
              "deferred", "restarting", "awaiting_input")  # fmt: skip


def refreshed(*tables: str, segments: Iterable[str] = ()) -> list:
    """The assets a refresh DAG's publishing task lists as outlets: one per table and segment."""
    from ferry.render.schedule import warehouse_asset

    return [warehouse_asset(name) for name in tables] + [
        warehouse_asset(name, segment=True) for name in segments
    ]


@dataclass(frozen=True)
class RunningRefresh:
    """One run of a DAG refreshing `name`, whose tasks emitting the name's asset have not finished.

    Attributes:
        name: The table or segment (as in an export's depends_on).
        dag_id, run_id: The refreshing run.
        task_ids: Its tasks that emit the name's asset.
        started: When the run started (aware).
    """

    name: str
    dag_id: str
    run_id: str
    task_ids: tuple[str, ...]
    started: dt.datetime

    @property
    def stale_at(self) -> dt.datetime:
        return self.started + STALE_AFTER

    def describe(self) -> str:
        return f"{self.name} (DAG {self.dag_id}, run {self.run_id})"

    def to_json(self) -> dict[str, Any]:
        """A trigger's argument: plain JSON."""
        started = self.started.isoformat()
        return {**asdict(self), "task_ids": list(self.task_ids), "started": started}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunningRefresh:
        return cls(
            name=data["name"],
            dag_id=data["dag_id"],
            run_id=data["run_id"],
            task_ids=tuple(data["task_ids"]),
            started=dt.datetime.fromisoformat(data["started"]),
        )


def producers(
    events: Iterable[tuple[str | None, str | None]], *, own_dag_id: str
) -> dict[str, tuple[str, ...]]:
    """The DAGs that refreshed a name, with their tasks that emitted its asset.

    Args:
        events: (source_dag_id, source_task_id) of the name's asset events; an event posted
            through the REST API names no DAG and tells of no run to wait for.
        own_dag_id: The waiting export's DAG, which never waits for itself.
    """
    found: dict[str, set[str]] = {}
    for dag_id, task_id in events:
        if dag_id and task_id and dag_id != own_dag_id:
            found.setdefault(dag_id, set()).add(task_id)
    return {dag_id: tuple(sorted(tasks)) for dag_id, tasks in sorted(found.items())}


def unfinished_runs(task_states: Mapping[str, Mapping[str, str | None]]) -> list[str]:
    """The runs in which some of the tasks (run id -> task -> state) has not finished."""
    return sorted(
        run_id
        for run_id, states in task_states.items()
        if any(state in UNFINISHED for state in states.values())
    )


def counts(run_state: str | None, started: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a run with unfinished producing tasks holds exports: running, and not stale."""
    return run_state == "running" and started is not None and now - started < STALE_AFTER


# --- Markers, for a refresh outside Airflow ---------------------------------------------


MARKERS_AREA = "_refresh"  # under FERRY_STAGING's prefix on S3


def marker_dir() -> Path | str:
    """Where refresh markers live: with FERRY_STAGING on S3, <staging URL>/_refresh (every
    worker, the triggerer and a job on another host see the same markers); else
    $FERRY_HOME/refresh on this machine.

    A FERRY_STAGING Ferry cannot use is no reason to fail the wait: the run's
    check_eligibility fails right after it, naming the setting and the fix.
    """
    try:
        return _markers_home()
    except StagingConfigError:
        return paths.ferry_home() / "refresh"


def _markers_home() -> Path | str:
    remote = shared_remote(MARKERS_AREA)
    return remote.url if remote is not None else paths.ferry_home() / "refresh"


def _where(folder: Path | str | None) -> Path | Remote:
    return parse_root(str(folder if folder else marker_dir()))


def _held_where() -> Path | Remote:
    """Where hold and release write: a FERRY_STAGING Ferry cannot use is an error here
    (a marker written elsewhere would hold nothing)."""
    return parse_root(str(_markers_home()))


def _marker(name: str, folder: Path | None = None) -> Path:
    return (folder or Path(marker_dir())) / f"{name}.running"


def refreshes_in_progress(names: list[str], folder: Path | str | None = None) -> list[str]:
    """Which of these tables or segments a marker says a refresh is rewriting right now.

    Args:
        names: Tables and segments, as in an export's depends_on.
        folder: Where the markers are (a folder or an s3:// URL); marker_dir() unless given
            (the trigger passes what the task saw, so the triggerer needs no Ferry settings).
    """
    now, where = time.time(), _where(folder)
    if isinstance(where, Remote):
        written = _remote_times(where, names)
    else:
        written = {}
        for name in names:
            with suppress(FileNotFoundError):
                written[name] = _marker(name, where).stat().st_mtime
    return [n for n in names if n in written and now - written[n] < STALE_AFTER.total_seconds()]


def hold(names: list[str], holder: str = "") -> None:
    """Take the markers of these names (a refresh starts rewriting them)."""
    where, text = _held_where(), holder or f"pid {os.getpid()}"
    if isinstance(where, Remote):
        bucket = _bucket(where)
        for name in names:
            bucket.put(where.key(f"{name}.running"), text.encode("utf-8"))
        return
    where.mkdir(parents=True, exist_ok=True)
    for name in names:
        marker = _marker(name, where)
        temporary = marker.with_name(f".{marker.name}.{os.getpid()}")
        temporary.write_text(text)
        temporary.replace(marker)


def release(names: list[str]) -> None:
    """Drop the markers of these names (their refresh finished or gave up)."""
    where = _held_where()
    if isinstance(where, Remote):
        _bucket(where).delete([where.key(f"{name}.running") for name in names])
        return
    for name in names:
        _marker(name, where).unlink(missing_ok=True)


def _remote_times(where: Remote, names: list[str]) -> dict[str, float]:
    from ferry.s3 import S3Missing

    bucket, written = _bucket(where), {}
    for name in names:
        with suppress(S3Missing):
            written[name] = bucket.modified(where.key(f"{name}.running"))
    return written


def _bucket(where: Remote):
    from ferry.s3 import Bucket

    return Bucket(where.conn_id, where.bucket)


@contextmanager
def refreshing(names: list[str], holder: str = "") -> Iterator[None]:
    """Hold markers for these names while the block rewrites them."""
    hold(names, holder)
    try:
        yield
    finally:
        release(names)
