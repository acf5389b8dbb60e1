"""An import against a small DuckDB warehouse: the lead table, files written by the test."""

from __future__ import annotations

import gzip
import hashlib
import logging
from pathlib import Path

import duckdb

from ferry.imports.files import LocalFile
from ferry.imports.load import ImportResult, load
from ferry.spec.catalogues import TableSpec
from ferry.spec.imports import ImportSpec

LOG = logging.getLogger("ferry.test.imports")
LEAD = {
    "key": "lead_id",
    "columns": {
        "lead_id": {"type": "BIGINT"},
        "email": {"type": "VARCHAR"},
        "score": {"type": "DECIMAL(6,2)"},
        "signed_up": {"type": "DATE"},
    },
}
LEAD_DDL = (
    "CREATE TABLE lead (lead_id BIGINT PRIMARY KEY, email VARCHAR, score DECIMAL(6,2), "
    "signed_up DATE)"
)
HEADER = "lead_id,email,score,signed_up\n"
START_ROWS = [(1, "a@x.org", 1.5, "2026-01-01"), (2, "b@x.org", 2.5, "2026-01-02")]


def table_spec(**changes) -> TableSpec:
    return TableSpec.model_validate({**LEAD, **changes})


def import_spec(mode: str = "merge", **fields) -> ImportSpec:
    return ImportSpec.model_validate(
        {"id": "leads", "name": "Leads", "source": {"type": "folder", "pattern": "*"},
         "table": "lead", "mode": mode, **fields}
    )  # fmt: skip


def make_warehouse(path: Path, rows=START_ROWS) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute(LEAD_DDL)
        con.executemany("INSERT INTO lead VALUES (?, ?, ?, ?)", [list(r) for r in rows])
    return path


def table_rows(path: Path, table: str = "lead") -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            f"SELECT lead_id, email, CAST(score AS DOUBLE), CAST(signed_up AS VARCHAR) "
            f"FROM {table} ORDER BY lead_id"
        ).fetchall()


def local_file(path: Path, name: str | None = None) -> LocalFile:
    data = path.read_bytes()
    return LocalFile(path, name or path.name, len(data), hashlib.sha256(data).hexdigest())


def write_file(folder: Path, name: str, text: str, encoding: str = "utf-8") -> LocalFile:
    path = folder / name
    data = text.encode(encoding)
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return local_file(path)


def run(spec: ImportSpec, files: list[LocalFile], folder: Path, table: TableSpec | None = None,
        run_key: str = "leads.manual__1", **options) -> ImportResult:  # fmt: skip
    return load(spec, table or table_spec(), files, folder, run_key=run_key, log=LOG, **options)
