"""A chunk_by export's many file sets reach every destination, through dag.test().

One file set per month of the leads' created_at: S3 (a {{ file }} template), SFTP (a
{{ part }} template, whose part carries the month), email attachments, the webhook's
records and the download folder each get every file, byte for byte.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from ferry import paths
from ferry.run_info import RunInfo

from .test_all_destinations import BUCKET, Targets, assert_posted, sha256
from .test_all_destinations import targets as targets  # the servers, a fixture

pytestmark = pytest.mark.integration
EXPORT_ID = "leads_by_month"
DEFINITION = """\
id: leads_by_month
name: Leads by month
owner: data-platform
source: {table: lead}
fields: [lead_id, state, created_at]
filters:
  where: [{field: state, op: in, value: [TX, CA]}]
format: {type: csv, compression: gzip, rows_per_file: 300,
         chunk_by: {column: created_at, every: month}}
destinations:
  - {type: s3, connection: ferry_test_s3, bucket: %(bucket)s,
     path: "by_month/{{ ts_nodash }}/{{ file }}"}
  - {type: sftp, connection: ferry_test_sftp,
     path: "%(sftp_root)s/monthly/{{ ts_nodash }}/leads_{{ part }}.csv.gz"}
  - {type: email, connection: ferry_test_smtp, to: [ops@example.com], max_attachment_bytes: 20MB,
     subject: "{{ export_name }} {{ ds }}"}
  - {type: webhook, connection: ferry_test_webhook, endpoint: /leads, batch_size: 400,
     signing_connection: ferry_test_signing}
  - {type: download}
schedule: "off"
"""
NAME = re.compile(r"leads_by_month_(?P<month>2026-\d\d)_(?P<part>\d{5})\.csv\.gz")


@pytest.fixture(scope="module")
def export_definition(targets) -> Iterator[Path]:
    path = paths.include_dir() / "exports" / f"{EXPORT_ID}.yaml"
    path.write_text(DEFINITION % {"bucket": BUCKET, "sftp_root": targets.sftp.root})
    yield path
    path.unlink()


def rows_by_month(warehouse: Path) -> dict[str, int]:
    text = (
        "SELECT strftime(date_trunc('month', created_at), '%Y-%m'), count(*) FROM lead "
        "WHERE state IN ('TX', 'CA') GROUP BY 1 ORDER BY 1"
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return dict(con.execute(text).fetchall())


def test_every_month_reaches_every_destination(
    targets: Targets, export_definition, warehouse, airflow_db, monkeypatch
):
    from airflow.dag_processing.dagbag import DagBag

    for variable in targets.connections():
        monkeypatch.setenv(*variable)
    dag = DagBag(dag_folder=str(paths.PROJECT_ROOT / "dags")).dags[f"export__{EXPORT_ID}"]
    run = dag.test(run_after=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    assert run.state == "success"
    folder = paths.downloads_dir() / EXPORT_ID / RunInfo(EXPORT_ID, run.run_id).job_run_id
    manifest = json.loads((folder / "manifest.json").read_text())
    data = {f["name"]: f["sha256"] for f in manifest["files"] if f["kind"] == "data"}
    months: dict[str, int] = {}
    for item in manifest["files"][: len(data)]:  # the data files come first
        month = NAME.fullmatch(item["name"])["month"]
        months[month] = months.get(month, 0) + item["rows"]
    assert months == rows_by_month(warehouse)
    assert len(data) > len(months) > 1  # many file sets, some of several files
    assert {name: sha256((folder / name).read_bytes()) for name in data} == data
    ts = (run.logical_date or run.data_interval_start or run.run_after).strftime("%Y%m%dT%H%M%S")
    bucket = targets.s3.client()
    s3 = {name: bucket.get_object(Bucket=BUCKET, Key=f"by_month/{ts}/{name}")["Body"].read()
          for name in data}  # fmt: skip
    assert {name: sha256(body) for name, body in s3.items()} == data
    sftp_folder = targets.sftp.root / "monthly" / ts
    sent = {name.removeprefix("leads_by_month_"): digest for name, digest in data.items()}
    assert {p.name.removeprefix("leads_"): sha256(p.read_bytes())
            for p in sftp_folder.glob("leads_*.csv.gz")} == sent  # fmt: skip
    message = email.message_from_bytes(targets.smtp.messages[-1], policy=email.policy.default)
    attached = {part.get_filename(): sha256(part.get_content())
                for part in message.iter_attachments() if part.get_filename() in data}  # fmt: skip
    assert attached == data
    assert_posted(targets.webhook, manifest["rows"])
