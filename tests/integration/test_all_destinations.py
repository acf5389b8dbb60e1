"""One export with all five destinations, run through dag.test() and through the scheduler.

Real servers on 127.0.0.1 (moto S3, Debian's sshd, aiosmtpd, an HTTP server) receive the
files; each delivered copy is checked against the staged manifest's sha256, the webhook's
records against the manifest's row count and signature.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ferry import paths
from ferry.run_info import RunInfo
from servers import MotoS3, OpenSshServer, SmtpServer, WebhookServer, airflow_connection, running

pytestmark = pytest.mark.integration
EXPORT_ID = "all_destinations"
BUCKET = "ferry-all-destinations"
SECRET = "whsec-all-destinations-test"
DEFINITION = """\
id: all_destinations
name: All destinations
owner: data-platform
source: {table: lead}
fields: [lead_id, state, source, revenue, comments, created_at]
filters:
  where: [{field: state, op: in, value: [TX, CA]}]
format: {type: csv, compression: gzip, rows_per_file: 1500}
destinations:
  - {type: s3, connection: ferry_test_s3, bucket: %(bucket)s,
     path: "leads/{{ ts_nodash }}/{{ file }}"}
  - {type: sftp, connection: ferry_test_sftp, path: "%(sftp_root)s/in/{{ ts_nodash }}/{{ file }}"}
  - {type: email, connection: ferry_test_smtp, to: [ops@example.com], max_attachment_bytes: 20MB,
     subject: "{{ export_name }} {{ ds }}"}
  - {type: webhook, connection: ferry_test_webhook, endpoint: /leads, batch_size: 400,
     signing_connection: ferry_test_signing}
  - {type: download}
schedule: "off"
"""


@dataclass
class Targets:
    s3: MotoS3
    sftp: OpenSshServer
    smtp: SmtpServer
    webhook: WebhookServer

    def connections(self) -> list[tuple[str, str]]:
        """Each connection as (AIRFLOW_CONN_<ID>, JSON): the form tests and the API take."""
        return [
            self.s3.connection("ferry_test_s3"),
            self.sftp.connection("ferry_test_sftp"),
            self.smtp.connection("ferry_test_smtp"),
            self.webhook.connection("ferry_test_webhook"),
            airflow_connection("ferry_test_signing", conn_type="generic", password=SECRET),
        ]


@pytest.fixture(scope="module")
def targets() -> Iterator[Targets]:
    if not Path("/usr/sbin/sshd").exists() and os.environ.get("CI") != "true":
        pytest.skip("sshd is missing: apt-get install -y openssh-server (see packages.txt)")
    webhook = WebhookServer(secret=SECRET.encode())
    sftp = OpenSshServer()
    with running(MotoS3()) as s3, running(sftp), running(SmtpServer()) as smtp, running(webhook):
        s3.client().create_bucket(Bucket=BUCKET)
        yield Targets(s3, sftp, smtp, webhook)
    sftp.cleanup()


@pytest.fixture(scope="module")
def export_definition(targets) -> Iterator[Path]:
    """The export, written into the session's include/ (the one the live Airflow renders)."""
    path = paths.include_dir() / "exports" / f"{EXPORT_ID}.yaml"
    path.write_text(DEFINITION % {"bucket": BUCKET, "sftp_root": targets.sftp.root})
    yield path
    path.unlink()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_folder(run_id: str) -> Path:
    return paths.downloads_dir() / EXPORT_ID / RunInfo(EXPORT_ID, run_id).job_run_id


def assert_every_destination_has_the_staged_bytes(targets: Targets, folder: Path, ts: str):
    """Download folder, bucket, SFTP folder, mail attachments and webhook records."""
    manifest = json.loads((folder / "manifest.json").read_text())
    data = {f["name"]: f["sha256"] for f in manifest["files"] if f["kind"] == "data"}
    assert len(data) >= 2, "the export is chunked into several files"
    assert {name: sha256((folder / name).read_bytes()) for name in data} == data
    bucket = targets.s3.client()
    keys = [item["Key"] for item in bucket.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert {f"leads/{ts}/{name}" for name in data} <= set(keys), keys
    s3_digests = {
        name: sha256(bucket.get_object(Bucket=BUCKET, Key=f"leads/{ts}/{name}")["Body"].read())
        for name in data
    }
    assert s3_digests == data
    sftp_folder = targets.sftp.root / "in" / ts
    assert {name: sha256((sftp_folder / name).read_bytes()) for name in data} == data
    assert not list(sftp_folder.glob("*.part"))
    assert_mailed(targets.smtp, data)
    assert_posted(targets.webhook, manifest["rows"])


def assert_mailed(smtp: SmtpServer, data: dict[str, str]) -> None:
    message = email.message_from_bytes(smtp.messages[-1], policy=email.policy.default)
    assert message["Subject"].startswith("All destinations ")
    attached = {
        part.get_filename(): sha256(part.get_content())
        for part in message.iter_attachments()
        if part.get_filename() in data
    }
    assert attached == data


def assert_posted(webhook: WebhookServer, rows: int) -> None:
    requests = [r for r in webhook.accepted if r.path.endswith("/leads")]
    assert requests and all(request.signature_ok for request in requests)
    bodies = sorted((request.json() for request in requests), key=lambda body: body["batch"])
    records = [record for body in bodies for record in body["records"]]
    assert len(records) == rows == sum(len(body["records"]) for body in bodies)
    assert [body["offset"] for body in bodies] == list(range(0, rows, 400))
    assert {record["state"] for record in records} == {"TX", "CA"}
    webhook.requests.clear()


def test_dag_test_delivers_to_all_five(
    targets, export_definition, warehouse, airflow_db, monkeypatch
):
    from airflow.dag_processing.dagbag import DagBag

    for variable in targets.connections():
        monkeypatch.setenv(*variable)
    dag = DagBag(dag_folder=str(paths.PROJECT_ROOT / "dags")).dags[f"export__{EXPORT_ID}"]
    run = dag.test(run_after=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    assert run.state == "success"
    folder = download_folder(run.run_id)
    moment = run.logical_date or run.data_interval_start or run.run_after
    assert_every_destination_has_the_staged_bytes(targets, folder, moment.strftime("%Y%m%dT%H%M%S"))


def test_scheduler_delivers_to_all_five(targets, export_definition, live_airflow, warehouse):
    client = live_airflow.client
    for variable, value in targets.connections():
        fields = json.loads(value)
        conn_id = variable.removeprefix("AIRFLOW_CONN_").lower()
        extra = json.dumps(fields.pop("extra", {}))
        client.put_connection(conn_id, {**fields, "extra": extra})
    dag_id = f"export__{EXPORT_ID}"
    client.wait_for_dag(dag_id, timeout=180)
    client.set_paused(dag_id, False)
    run = client.trigger(dag_id)
    finished = client.wait_for_run(dag_id, run["dag_run_id"], timeout=300)
    states = {ti["task_id"]: ti["state"] for ti in client.task_instances(dag_id, run["dag_run_id"])}
    assert finished["state"] == "success", states
    run_after = dt.datetime.fromisoformat(finished["run_after"])
    folder = download_folder(run["dag_run_id"])
    assert_every_destination_has_the_staged_bytes(
        targets, folder, run_after.strftime("%Y%m%dT%H%M%S")
    )
