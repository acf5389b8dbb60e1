"""The system refresh of the demo warehouse: ingest new rows, unify profiles, refresh segments.

DuckDB lets one process write a file and keeps every other process from opening it
meanwhile, so a refresh never writes the file exports read: it copies the warehouse to a
work file next to it, changes the copy, and swaps it in with os.replace. A read-only
connection sees the old file or the new one, whole, and never waits on a lock.

Each step runs in one transaction and notes itself in refresh_log, so a retried step does
not ingest twice. New rows come from the demo generator (ferry_demo.tables), seeded by the
batch number, and are stamped in the hour before the run's reference time, so the same
batch of the same warehouse always gives the same rows. Exports on a cron wait while the
DAG that runs it (dags/ferry_demo_refresh.py) has not published, as for any team's refresh
(ferry.refresh): it holds no marker of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ferry.exceptions import Transient
from ferry.refresh import STALE_AFTER
from ferry.sql import compile_rule, quote

if TYPE_CHECKING:
    import duckdb

    from ferry.spec.loader import Project

REFRESHED_TABLES = ("customer_profile", "contact", "lead")
MEMBERSHIP_TABLE = "segment_membership"
INCOMING_TABLE = "incoming_profile"
LOG_TABLE = "refresh_log"
DEFAULT_NEW_PROFILES = 200
BASE_SEED = 42  # the demo warehouse's default seed; batch n uses BASE_SEED + n
KNOWN_CUSTOMER_EVERY = 3  # every 3rd incoming record is a known customer under another spelling

log = logging.getLogger(__name__)


class RefreshBusy(RuntimeError, Transient):
    """Another refresh of the same warehouse is under way (transient: it ends)."""


@dataclass(frozen=True)
class Batch:
    """One refresh: its work file, number (which seeds its rows), reference time."""

    work: str
    number: int
    now: str  # ISO 8601, naive UTC: XCom-friendly
    new_profiles: int = DEFAULT_NEW_PROFILES

    @property
    def moment(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.now)


@dataclass(frozen=True)
class Feed:
    """New rows of one table from a source: generated, then stamped with the batch's time."""

    into: str  # the table they land in
    table: str  # the table whose columns and keys they follow
    key: str
    share: float  # rows per incoming customer record
    stamps: dict[str, str]  # column -> SQL replacing the generator's value; {key} is the key


_STAMPED = {"created_at": "ingest_time({key})", "updated_at": "ingest_time({key})"}
_DELIVERED = (
    "CASE WHEN outcome = 'success' THEN ingest_time({key}) + to_seconds(lead_delay({key})) END"
)
FEEDS = (
    Feed(INCOMING_TABLE, "customer_profile", "profile_id", 1.0, _STAMPED),
    Feed("contact", "contact", "contact_id", 0.5, _STAMPED),
    Feed("lead", "lead", "lead_id", 1.0, {"created_at": "ingest_time({key})",
                                          "delivered_at": _DELIVERED}),
)  # fmt: skip


@dataclass
class RefreshResult:
    """What a whole refresh did, for logs and tests."""

    batch: int
    ingested: dict[str, int] = field(default_factory=dict)
    unified: dict[str, int] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def work_path(warehouse: Path) -> Path:
    """The refresh's copy, beside the warehouse so os.replace stays on one file system."""
    warehouse = Path(warehouse)
    return warehouse.with_name(f".{warehouse.stem}.refresh{warehouse.suffix}")


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    import duckdb

    return duckdb.connect(str(path), config={"threads": 2, "memory_limit": "512MB"})


@contextmanager
def pinned(warehouse: Path) -> Iterator[Path]:
    """A name for the warehouse as it is now, which a refresh's swap does not move.

    A reader that opens several connections one after another (one per key slice, say)
    would read two versions if a refresh published in between; a hard link keeps the
    version it started on, without copying a byte. Where links are not supported the
    warehouse itself is read.
    """
    warehouse = Path(warehouse)
    link = warehouse.with_name(
        f".{warehouse.stem}.read-{os.getpid()}-{uuid.uuid4().hex[:8]}{warehouse.suffix}"
    )
    try:
        os.link(warehouse, link)
    except OSError as error:
        log.warning("Cannot pin %s (%s); reading it as it changes", warehouse, error)
        yield warehouse
        return
    try:
        yield link
    finally:
        link.unlink(missing_ok=True)


def begin(warehouse: Path, *, now: dt.datetime, new_profiles: int = DEFAULT_NEW_PROFILES) -> Batch:
    """Copy the warehouse to the work file; the next batch number.

    Raises:
        RefreshBusy: A fresh work file shows another refresh is running.
    """
    warehouse, work = Path(warehouse), work_path(warehouse)
    _claim(work)
    try:
        shutil.copyfile(warehouse, work)
        with _connect(work) as con:
            number = _last_batch(con) + 1
    except BaseException:
        end(Batch(str(work), 0, ""))
        raise
    now = now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now
    log.info("Refresh %s of %s started in %s", number, warehouse, work)
    return Batch(str(work), number, now.isoformat(), new_profiles)


def _claim(work: Path) -> None:
    """Create the work file exclusively; one left by a crash long ago is taken over."""
    for _ in range(2):
        try:
            with open(work, "xb"):
                return
        except FileExistsError:
            age = time.time() - work.stat().st_mtime
            if age < STALE_AFTER.total_seconds():
                raise RefreshBusy(
                    f"another refresh is running: {work} is {age:.0f} s old"
                ) from None
            log.warning("Taking over %s, left by a refresh %.0f s ago", work, age)
            work.unlink(missing_ok=True)
            _wal(work).unlink(missing_ok=True)
    raise RefreshBusy(f"another refresh claimed {work} at the same time")


def _last_batch(con: duckdb.DuckDBPyConnection) -> int:
    _create_log(con)
    return con.execute(f"SELECT coalesce(max(batch), 0) FROM {LOG_TABLE}").fetchone()[0]


def end(batch: Batch) -> None:
    """Drop the work file, published or not: the teardown of a refresh."""
    Path(batch.work).unlink(missing_ok=True)
    _wal(Path(batch.work)).unlink(missing_ok=True)


def publish(batch: Batch, warehouse: Path) -> None:
    """Swap the finished work file in for the warehouse, atomically."""
    work, warehouse = Path(batch.work), Path(warehouse)
    with _connect(work) as con:
        con.execute("CHECKPOINT")  # everything in the file itself, no log beside it
    # A log left by a crashed writer of the old file would be replayed onto the new one.
    _wal(warehouse).unlink(missing_ok=True)
    os.replace(work, warehouse)
    log.info("Refresh %s published to %s", batch.number, warehouse)


def _create_log(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} "
        "(batch INTEGER, step VARCHAR, result VARCHAR, finished_at TIMESTAMP)"
    )


def _step(batch: Batch, name: str, body: Callable[[duckdb.DuckDBPyConnection], dict]) -> dict:
    """Run body in one transaction on the work file, once per batch: a retry returns the
    first run's result instead of repeating it."""
    with _connect(Path(batch.work)) as con:
        _create_log(con)
        query = f"SELECT result FROM {LOG_TABLE} WHERE batch = ? AND step = ?"
        done = con.execute(query, [batch.number, name]).fetchone()
        if done:
            log.info("Refresh %s: %s already done", batch.number, name)
            return json.loads(done[0])
        con.execute("BEGIN TRANSACTION")
        result = body(con)
        con.execute(
            f"INSERT INTO {LOG_TABLE} VALUES (?, ?, ?, ?)",
            [batch.number, name, json.dumps(result), batch.moment],
        )
        con.execute("COMMIT")
    log.info("Refresh %s: %s %s", batch.number, name, result)
    return result


def ingest(batch: Batch) -> dict[str, int]:
    """New rows from the sources: customer records (staged for unify), contacts and leads."""
    return _step(batch, "ingest", lambda con: _ingest(con, batch))


def _ingest(con: duckdb.DuckDBPyConnection, batch: Batch) -> dict[str, int]:
    from ferry_demo.blocks import create_macros

    create_macros(con, BASE_SEED + batch.number)
    _create_clock(con, batch.moment)
    known_profiles = _next_key(con, "customer_profile", "profile_id") - 1
    accounts = con.execute("SELECT count(*) FROM account").fetchone()[0]
    con.execute(f"CREATE OR REPLACE TABLE {INCOMING_TABLE} AS FROM customer_profile LIMIT 0")
    counts = {
        feed.into: _generate(con, feed, round(batch.new_profiles * feed.share), accounts)
        for feed in FEEDS
    }
    _spell_known_customers(con, known_profiles)
    return counts


def _create_clock(con: duckdb.DuckDBPyConnection, now: dt.datetime) -> None:
    """ingest_time(key): a time in the hour before the batch's reference time, per row."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE refresh_clock AS SELECT CAST(? AS TIMESTAMP) AS now", [now]
    )
    con.execute(
        "CREATE OR REPLACE TEMP MACRO ingest_time(k) AS "
        "(SELECT now FROM refresh_clock) - to_seconds(900 + rnd(k, 'ingest') % 2700)"
    )


def _next_key(con: duckdb.DuckDBPyConnection, table: str, key: str) -> int:
    query = f"SELECT coalesce(max({quote(key)}), 0) + 1 FROM {quote(table)}"
    return con.execute(query).fetchone()[0]


def _generate(con: duckdb.DuckDBPyConnection, feed: Feed, rows: int, accounts: int) -> int:
    """Insert rows keyed after the table's last key, from the demo generator, restamped."""
    from ferry_demo.build import load_contract
    from ferry_demo.tables import table_select

    if rows <= 0:
        return 0
    start = _next_key(con, feed.table, feed.key)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE row_numbers AS SELECT range AS n FROM range(?, ?)",
        [start, start + rows],
    )
    stamps = {name: sql.format(key=feed.key) for name, sql in feed.stamps.items()}
    casts = ", ".join(
        f"CAST({stamps.get(name, quote(name))} AS {kind}) AS {quote(name)}"
        for name, kind in load_contract()[feed.table].items()
    )
    select = table_select(feed.table, {feed.table: start + rows - 1, "account": accounts})
    con.execute(f"INSERT INTO {quote(feed.into)} SELECT {casts} FROM ({select})")
    return rows


def _spell_known_customers(con: duckdb.DuckDBPyConnection, known_profiles: int) -> None:
    """Every few incoming records carry a known customer's email, upper-cased (another source)."""
    if known_profiles < 1:
        return
    con.execute(
        f"""UPDATE {INCOMING_TABLE} AS i SET email = upper(p.email) FROM customer_profile AS p
        WHERE i.profile_id % {KNOWN_CUSTOMER_EVERY} = 0
          AND p.profile_id = 1 + rnd(i.profile_id, 'known') % ?""",
        [known_profiles],
    )


def unify(batch: Batch) -> dict[str, int]:
    """Merge incoming records into profiles by email (case-insensitive); add the rest."""
    return _step(batch, "unify", lambda con: _unify(con, batch.moment))


def _unify(con: duckdb.DuckDBPyConnection, now: dt.datetime) -> dict[str, int]:
    from ferry_demo.tables import loyalty_tier

    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE known AS
        SELECT lower(i.email) AS email_key, sum(i.order_count) AS orders,
               sum(coalesce(i.lifetime_value, 0)) AS earned, count(*) AS records
        FROM {INCOMING_TABLE} AS i
        WHERE EXISTS (SELECT 1 FROM customer_profile AS p WHERE lower(p.email) = lower(i.email))
        GROUP BY 1"""
    )
    value = "(coalesce(p.lifetime_value, 0) + k.earned)"
    con.execute(
        f"""UPDATE customer_profile AS p SET order_count = p.order_count + k.orders,
            lifetime_value = {value}, loyalty_tier = {loyalty_tier(value)}, updated_at = ?
        FROM known AS k WHERE lower(p.email) = k.email_key""",
        [now],
    )
    added = con.execute(
        f"""INSERT INTO customer_profile SELECT * FROM {INCOMING_TABLE} AS i
        WHERE NOT EXISTS (SELECT 1 FROM known AS k WHERE k.email_key = lower(i.email))"""
    ).fetchone()[0]
    merged, profiles = con.execute(
        "SELECT coalesce(sum(records), 0), count(*) FROM known"
    ).fetchone()
    con.execute(f"DROP TABLE {INCOMING_TABLE}")
    return {"merged_records": int(merged), "updated_profiles": profiles, "new_profiles": added}


def refresh_memberships(batch: Batch, project: Project) -> dict[str, int]:
    """Recompute every segment's members as of the batch's reference time."""
    return _step(batch, "segments", lambda con: _memberships(con, project, batch.moment))


def _memberships(con: duckdb.DuckDBPyConnection, project: Project, now: dt.datetime) -> dict:
    con.execute(
        f"CREATE OR REPLACE TABLE {MEMBERSHIP_TABLE} "
        "(segment_id VARCHAR, member_id BIGINT, refreshed_at TIMESTAMP)"
    )
    counts = {}
    for segment_id, segment in sorted(project.segments.items()):
        table_name = project.table_for_segment_type(segment.type)
        table = project.tables[table_name]
        rule = compile_rule(segment.rules, table.columns, now)
        counts[segment_id] = con.execute(
            f"INSERT INTO {MEMBERSHIP_TABLE} SELECT CAST(? AS VARCHAR), {quote(table.key)}, "
            f"CAST(? AS TIMESTAMP) FROM {quote(table_name)} WHERE {rule.text}",
            [segment_id, now, *rule.params],
        ).fetchone()[0]
    return counts


def run_refresh(
    warehouse: Path,
    project: Project,
    *,
    now: dt.datetime,
    new_profiles: int = DEFAULT_NEW_PROFILES,
) -> RefreshResult:
    """Ingest, unify and refresh segments on a copy, then swap it in."""
    started = time.perf_counter()
    batch = begin(warehouse, now=now, new_profiles=new_profiles)
    try:
        result = RefreshResult(batch.number, ingest(batch), unify(batch))
        result.segments = refresh_memberships(batch, project)
        publish(batch, warehouse)
    finally:
        end(batch)
    result.seconds = round(time.perf_counter() - started, 3)
    return result
