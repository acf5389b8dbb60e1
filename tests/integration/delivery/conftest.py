"""Staged runs for delivery tests, written by hand (files + manifest) as the engine would.

The rows carry what breaks naive writers and readers: commas, quotes, newlines, tabs,
non-ASCII text and nulls.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ferry.delivery import DeliveryContext
from ferry.manifest import Manifest, StagedFile
from ferry.run_info import RunInfo
from ferry.spec.models import ExportSpec
from servers import (
    SmtpServer,
    WebhookServer,
    airflow_connection,
    running,
)

EXPORT_ID = "lead_backup"
RUN_ID = "scheduled__2024-05-01T00:00:00+00:00"
LOGICAL_DATE = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
ROWS = [
    {"id": 1, "name": 'Zoë "Zo" Müller', "city": "São Paulo, BR", "note": "line one\nline two"},
    {"id": 2, "name": "李雷", "city": "Zürich", "note": 'tab\there, comma, "quote"'},
    {"id": 3, "name": "O'Brien", "city": None, "note": "emoji 🚀 and ü"},
    {"id": 4, "name": "Ødegård", "city": "Tromsø", "note": ""},
    {"id": 5, "name": "Smith, John", "city": "New\r\nYork", "note": "x" * 40},
]
SCHEMA = [{"name": "id", "type": "BIGINT"}, {"name": "name", "type": "VARCHAR"},
          {"name": "city", "type": "VARCHAR"}, {"name": "note", "type": "VARCHAR"}]  # fmt: skip


def _csv_bytes(rows: list[dict], delimiter: str = ",") -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(
        buffer, fieldnames=list(rows[0]), delimiter=delimiter, lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _encode(rows: list[dict], fmt: str) -> bytes:
    if fmt in ("csv", "tsv"):
        return _csv_bytes(rows, "," if fmt == "csv" else "\t")
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1).encode()
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows), sink)
        return sink.getvalue()
    raise ValueError(fmt)


def stage_run(
    folder: Path,
    *,
    fmt: str = "csv",
    compression: str = "gzip",
    rows: list[dict] | None = None,
    rows_per_file: int = 2,
    big_file_bytes: int = 0,
) -> Manifest:
    """Write chunked data files, a schema sidecar and manifest.json into folder.

    big_file_bytes adds one large incompressible data file (for multipart and cut tests).
    """
    rows = ROWS if rows is None else rows
    folder.mkdir(parents=True, exist_ok=True)
    ext = fmt + (".gz" if compression == "gzip" and fmt != "parquet" else "")
    files = []
    for index in range(0, len(rows), rows_per_file):
        chunk = rows[index : index + rows_per_file]
        data = _encode(chunk, fmt)
        if ext.endswith(".gz"):
            data = gzip.compress(data, mtime=0)
        name = f"{EXPORT_ID}_{index // rows_per_file + 1:05d}.{ext}"
        files.append(_write(folder / name, data, rows=len(chunk)))
    if big_file_bytes:
        name = f"{EXPORT_ID}_{len(files) + 1:05d}.bin"
        files.append(_write(folder / name, _noise(big_file_bytes), rows=0))
    schema = json.dumps(SCHEMA, indent=1).encode()
    files.append(_write(folder / "schema.json", schema, rows=0, kind="schema"))
    manifest = Manifest(
        export_id=EXPORT_ID, job_run_id=RunInfo(EXPORT_ID, RUN_ID).job_run_id, run_id=RUN_ID,
        format=fmt,
        compression=compression, files=files, schema=SCHEMA, field_mapping=[],
        rows=len(rows), bytes=sum(f.bytes for f in files),
    )  # fmt: skip
    manifest.write(folder)
    return manifest


def _noise(size: int) -> bytes:
    import random

    return random.Random(size).randbytes(size)


def _write(path: Path, data: bytes, *, rows: int, kind: str = "data") -> StagedFile:
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()  # not the code under test's own sha256_of
    return StagedFile(name=path.name, rows=rows, bytes=len(data), sha256=digest, kind=kind)


def make_context(
    destination: dict, *, try_number: int = 1, run_id: str = RUN_ID
) -> DeliveryContext:
    """A DeliveryContext for the export lead_backup with one destination."""
    export = ExportSpec.model_validate(
        {
            "id": EXPORT_ID,
            "name": "Lead backup — ü",
            "source": {"table": "lead"},
            "destinations": [destination],
            "retention_days": 7,
        }
    )
    run = RunInfo(
        export_id=EXPORT_ID,
        run_id=run_id,
        logical_date=LOGICAL_DATE,
        data_interval_start=LOGICAL_DATE - dt.timedelta(days=1),
        data_interval_end=LOGICAL_DATE,
        triggered_by="test",
    )
    template_vars = {
        "ds": "2024-05-01", "ds_nodash": "20240501", "ts": LOGICAL_DATE.isoformat(),
        "ts_nodash": "20240501T000000", "run_id": run_id, "logical_date": LOGICAL_DATE,
        "data_interval_start": run.data_interval_start, "data_interval_end": LOGICAL_DATE,
        "export_id": EXPORT_ID, "export_name": export.name,
    }  # fmt: skip
    return DeliveryContext(
        export=export, run=run, template_vars=template_vars, try_number=try_number
    )


@pytest.fixture
def staging(tmp_path: Path) -> Callable[..., tuple[Path, Manifest]]:
    """Stage a run in a fresh folder: staging(fmt=..., compression=...) -> (folder, manifest)."""
    counter = iter(range(1000))

    def build(**options) -> tuple[Path, Manifest]:
        folder = tmp_path / f"staging{next(counter)}" / EXPORT_ID / "run"
        return folder, stage_run(folder, **options)

    return build


def assert_same_bytes(delivered: dict[str, bytes], manifest: Manifest) -> None:
    """Each delivered file (by staged name) has the manifest's size and sha256."""
    import hashlib

    for staged in manifest.files:
        data = delivered[staged.name]
        assert len(data) == staged.bytes, staged.name
        assert hashlib.sha256(data).hexdigest() == staged.sha256, staged.name


@pytest.fixture
def staged_rows() -> list[dict]:
    """The rows staging() writes by default."""
    return [dict(row) for row in ROWS]


@pytest.fixture
def context_for() -> Callable[..., DeliveryContext]:
    """context_for(destination_dict, try_number=1) -> DeliveryContext."""
    return make_context


@pytest.fixture
def same_bytes() -> Callable[[dict[str, bytes], Manifest], None]:
    """same_bytes(delivered_by_staged_name, manifest) asserts sizes and sha256s."""
    return assert_same_bytes


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short in-call backoff so fault tests finish in seconds."""
    monkeypatch.setenv("FERRY_DELIVERY_ATTEMPTS", "3")
    monkeypatch.setenv("FERRY_DELIVERY_BACKOFF_SECONDS", "0.1")
    monkeypatch.setenv("FERRY_DELIVERY_MAX_BACKOFF_SECONDS", "0.5")


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch) -> Callable[[tuple[str, str]], None]:
    """connect(server.connection(id)): an Airflow connection for one test, as AIRFLOW_CONN_<ID>."""
    return lambda variable: monkeypatch.setenv(*variable)


@pytest.fixture(scope="session")
def smtp_session_server() -> Iterator[SmtpServer]:
    with running(SmtpServer()) as server:
        yield server


@pytest.fixture
def smtp_server(smtp_session_server: SmtpServer) -> SmtpServer:
    """aiosmtpd for the session, its mailbox emptied for each test."""
    smtp_session_server.messages.clear()
    smtp_session_server.envelopes.clear()
    return smtp_session_server


SIGNING_SECRET = "whsec-7f3a9c1e-test-only"


@pytest.fixture
def webhook_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookServer]:
    """A recording HTTP server; connections webhook_test and webhook_signing point at it."""
    server = WebhookServer(secret=SIGNING_SECRET.encode())
    with running(server):
        monkeypatch.setenv(*server.connection("webhook_test"))
        signing = airflow_connection(
            "webhook_signing", conn_type="generic", password=SIGNING_SECRET
        )
        monkeypatch.setenv(*signing)
        yield server
