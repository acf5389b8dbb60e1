"""An import run end to end from a real server into a real database: the partner's gzipped
file on OpenSSH's SFTP or moto's S3, through ferry.pipeline_imports' load and finalize, merged
into a copy of the demo warehouse (DuckDB) or into PostgreSQL; rows checked in the table,
counts in the history, the file moved to done/ on the server."""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import os
import pwd
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from ferry import history, pipeline_imports
from ferry.record import Ending
from ferry.run_info import RunInfo
from ferry_demo.drop import NEW_LEADS_FROM, drop_leads
from include_copy import copy_include
from servers import SFTP_USER

pytestmark = pytest.mark.integration
LOG = logging.getLogger("ferry.test.remote_imports")
RUN = RunInfo(
    "remote_leads", "scheduled__2026-03-04T00:00:00+00:00",
    logical_date=dt.datetime(2026, 3, 4, tzinfo=dt.UTC), triggered_by="test",
)  # fmt: skip
NAME = "leads_20260304.csv.gz"
IDS = [*range(1, 11), *range(NEW_LEADS_FROM, NEW_LEADS_FROM + 10)]  # 10 updated, 10 new
IMPORT = """\
id: remote_leads
name: Remote leads
source: {source}
format: {{type: csv}}
table: {table}
mode: merge
columns: [lead_id, {{field: E-mail, to: email}}, state, created_at]
"""
PG_TABLE = """
  pg_lead:
    description: Leads in PostgreSQL.
    connection: pg_import
    name: e2e.lead
    key: lead_id
    columns:
      lead_id: {type: BIGINT}
      email: {type: VARCHAR}
      state: {type: VARCHAR}
      created_at: {type: TIMESTAMP}
"""
PG_DDL = (
    "DROP SCHEMA IF EXISTS e2e CASCADE; CREATE SCHEMA e2e; CREATE TABLE e2e.lead "
    "(lead_id BIGINT PRIMARY KEY, email TEXT, state TEXT, created_at TIMESTAMP); "
    "INSERT INTO e2e.lead SELECT n, 'old' || n || '@x.org', 'ZZ', '2026-01-01' "
    "FROM generate_series(1, 20) AS n"
)


@pytest.fixture
def include(tmp_path, monkeypatch) -> Path:
    include = copy_include(tmp_path)
    with (include / "warehouse" / "tables.yaml").open("a") as tables:
        tables.write(PG_TABLE)
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    return include


def partner_file(tmp_path: Path) -> bytes:
    """The demo partner's file of the run's day (python -m ferry_demo --drop-leads), gzipped."""
    return gzip.compress(drop_leads(RUN.logical_date.date(), tmp_path / "made").read_bytes())


def on_sftp(request, monkeypatch, data: bytes) -> tuple[dict, Callable[[], list[str]]]:
    """The file in the SFTP server's outbox; the source, and the names left there after."""
    server = request.getfixturevalue("sftp_server")
    monkeypatch.setenv(*server.connection("partner_sftp"))
    user = pwd.getpwnam(SFTP_USER)
    outbox = server.root / "outbox"
    outbox.mkdir()
    (outbox / NAME).write_bytes(data)
    for path in (outbox, outbox / NAME):
        os.chown(path, user.pw_uid, user.pw_gid)
    source = {"type": "sftp", "connection": "partner_sftp", "path": str(outbox),
              "pattern": "leads_{{ ds_nodash }}*.csv.gz", "done_folder": "done"}  # fmt: skip
    return source, lambda: sorted(str(p.relative_to(outbox)) for p in outbox.rglob("*.gz"))


def on_s3(request, monkeypatch, data: bytes) -> tuple[dict, Callable[[], list[str]]]:
    """The file under outbox/ in a bucket of moto's S3; the source, and the keys after."""
    server = request.getfixturevalue("s3_server")
    monkeypatch.setenv(*server.connection("partner_s3"))
    client = server.client()
    bucket = f"partner-{request.node.callspec.id.replace('_', '-').replace('/', '-')}"
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key=f"outbox/{NAME}", Body=data)
    source = {"type": "s3", "connection": "partner_s3", "bucket": bucket, "path": "outbox",
              "pattern": "leads_{{ ds_nodash }}*.csv.gz", "done_folder": "done"}  # fmt: skip

    def left() -> list[str]:
        listed = client.list_objects_v2(Bucket=bucket)["Contents"]
        return sorted(o["Key"].removeprefix("outbox/") for o in listed)

    return source, left


def duckdb_rows(request) -> tuple[str, Callable[[], dict[int, tuple]]]:
    """The demo lead table in the test's own copy of the warehouse."""
    warehouse = request.getfixturevalue("own_warehouse")

    def rows() -> dict[int, tuple]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            found = con.execute(
                "SELECT lead_id, email, state, CAST(created_at AS VARCHAR) FROM lead "
                "WHERE list_contains(?, lead_id)",
                [IDS],
            ).fetchall()
        return {row[0]: row[1:] for row in found}

    return "lead", rows


def postgres_rows(request) -> tuple[str, Callable[[], dict[int, tuple]]]:
    """e2e.lead in the session's PostgreSQL, rows 1..20 there before the import."""
    server = request.getfixturevalue("postgres")
    request.getfixturevalue("monkeypatch").setenv(*server.connection("pg_import"))
    server.execute(PG_DDL)

    def rows() -> dict[int, tuple]:
        out = server.execute(
            "SELECT lead_id, email, state, created_at::text FROM e2e.lead "
            f"WHERE lead_id IN ({', '.join(map(str, IDS))})"
        )
        return {int(i): (e, s, c) for i, e, s, c in (line.split("|") for line in out.splitlines())}

    return "pg_lead", rows


@pytest.mark.parametrize("where", [on_sftp, on_s3], ids=["sftp", "s3"])
@pytest.mark.parametrize("target", [duckdb_rows, postgres_rows], ids=["duckdb", "postgres"])
def test_a_partner_file_on_a_server_is_merged_recorded_and_moved_to_done(
    where, target, include, request, monkeypatch, tmp_path
):
    source, left_on_server = where(request, monkeypatch, partner_file(tmp_path))
    table, table_rows = target(request)
    text = IMPORT.format(source=source, table=table)
    (include / "imports" / "remote_leads.yaml").write_text(text)

    loaded = pipeline_imports.load(RUN, log=LOG)
    ending = Ending(started_at=dt.datetime.now(dt.UTC), notify=False)
    pipeline_imports.finalize(RUN, loaded, ending, log=LOG)

    rows = table_rows()
    assert sorted(rows) == IDS
    assert rows[1] == ("lead1@partner.example", "TX", "2026-03-04 09:30:00")  # updated
    last = IDS[-1]
    assert rows[last] == (f"lead{last}@partner.example", "FL", "2026-03-04 09:49:00")  # new
    record = history.get_run(RUN.job_run_id)
    assert record is not None and (record.kind, record.outcome) == ("import", "success")
    assert (record.rows, record.inserted, record.updated, record.rejected) == (20, 10, 10, 0)
    assert left_on_server() == [f"done/{NAME}"]
