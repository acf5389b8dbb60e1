"""Shared test helpers: the fixture rows, export specs and real readers of staged files."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from ferry.manifest import Manifest
from ferry.plan import ExportPlan
from ferry.spec import models
from ferry.spec.loader import load_project

ROOT = Path(__file__).resolve().parents[3]
ROWS = 240
PII_KEY = b"test-pii-key-0123456789"
NASTY = (
    "plain",
    "comma, inside",
    'quote " inside',
    '"fully quoted"',
    "line\nfeed",
    "carriage\r\nreturn",
    "lone\rcr",
    "tab\there",
    "  spaces  ",
    "Café déjà vu \u2013 naïve Straße",
    "emoji 🎉🚀",
    "中文 名字",
    "",
    None,
    ",",
    '"',
    'He said, "ok"\r\nthen left\t',
    "back\\slash; a|b",
)


def profile_row(i: int) -> tuple:
    """Row i of the fixture table; every column has nulls somewhere."""
    nasty = NASTY[i % len(NASTY)]
    seen = dt.datetime(2026, 1, 1) + dt.timedelta(
        hours=i * 7, seconds=i, microseconds=(i % 3) * 250_000
    )
    return (
        1000 + i,
        None if i % 17 == 5 else f"user{i}.name@example{i % 3}.com",
        nasty,
        NASTY[(i + 5) % len(NASTY)],
        None if i % 11 == 3 else f"+1 555-{i % 1000:03d}-{i:04d}",
        None if i % 13 == 4 else dt.date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
        NASTY[(i + 9) % len(NASTY)],
        ["TX", "CA", "NY", None][i % 4],
        "US" if i % 5 else "DE",
        f"{i:05d}",
        None if i % 19 == 7 else Decimal(i * 37 % 100000) / 100 - 5,
        None if i % 23 == 2 else i % 40,
        ["gold", "silver", "platinum", None][i % 4],
        [True, False, None][i % 3],
        i % 2 == 0,
        None if i % 29 == 1 else i % 7 != 0,
        NASTY[(i + 3) % len(NASTY)],
        seen,
        None if i % 31 == 6 else seen + dt.timedelta(days=3),
    )


def export_spec(**overrides) -> models.ExportSpec:
    """A data-out export of customer_profile; keyword arguments override the YAML keys."""
    definition = {
        "id": "fixture_export",
        "name": "Fixture export",
        "source": {"table": "customer_profile"},
        "destinations": [{"type": "download"}],
        **overrides,
    }
    return models.ExportSpec.model_validate(definition)


def warehouse_rows(warehouse: Path, plan: ExportPlan) -> list[tuple]:
    """The plan's source columns straight from the warehouse, in key order."""
    columns = ", ".join(f'"{column.source}"' for column in plan.columns)
    text = f'SELECT {columns} FROM customer_profile WHERE {plan.where.text} ORDER BY "{plan.key}"'
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(text, list(plan.where.params)).fetchall()


def decompressed(path: Path) -> bytes:
    """A staged file's content, with the standard library's own gzip and zip readers."""
    if path.name.endswith(".gz"):
        return gzip.decompress(path.read_bytes())
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            (entry,) = archive.namelist()
            assert entry == path.name.removesuffix(".zip")
            return archive.read(entry)
    return path.read_bytes()


def read_text_table(path: Path, delimiter: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV/TSV file, parsed by the csv module."""
    text = decompressed(path).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    return rows[0], rows[1:]


def read_records(path: Path, format_type: str) -> list:
    """Rows of a JSON, JSONL or Parquet file, by json and pyarrow."""
    if format_type == "parquet":
        return pq.read_table(path).to_pylist()
    text = decompressed(path).decode("utf-8")
    if format_type == "json":
        return json.loads(text, parse_float=Decimal)
    return [json.loads(line, parse_float=Decimal) for line in text.splitlines()]


def data_paths(folder: Path, manifest: Manifest) -> list[Path]:
    return [folder / staged.name for staged in manifest.data_files]


def iso_z(moment: dt.datetime) -> str:
    """ISO 8601 UTC as the contract writes it: a fraction only when there is one."""
    text = moment.isoformat(timespec="microseconds").rstrip("0").rstrip(".")
    return text + "Z"


def as_text(value) -> str:
    """A warehouse value as CSV/TSV writes it (a null is an empty field)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return iso_z(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def as_json(value):
    """A warehouse value as JSON writes it: ISO strings for dates and times."""
    if isinstance(value, dt.datetime):
        return iso_z(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def nasty_warehouse(path: Path) -> Path:
    """A DuckDB file whose customer_profile (tables.yaml's columns) holds ROWS rows cycling
    through NASTY, stored in reverse key order."""
    columns = load_project(ROOT / "include").tables["customer_profile"].columns
    with duckdb.connect(str(path)) as con:
        ddl = ", ".join(f'"{name}" {spec.type}' for name, spec in columns.items())
        con.execute(f"CREATE TABLE customer_profile ({ddl})")
        marks = ", ".join("?" * len(columns))
        rows = [profile_row(i) for i in range(ROWS)]
        con.executemany(f"INSERT INTO customer_profile VALUES ({marks})", rows[::-1])
    return path


def report_plan(project, folder: Path, group_by, metrics, dialect, interval=(None, None),
                **overrides) -> ExportPlan:  # fmt: skip
    """The plan of a report over customer_profile, in dialect's SQL, staged under folder."""
    from ferry.plan import build_plan
    from ferry.run_info import RunInfo
    from ferry.staging import run_location

    source = {"report": "customer_profile", "group_by": group_by, "metrics": metrics}
    spec = export_spec(**{"id": "report_fixture", **overrides}, kind="report", source=source)
    project.exports[spec.id] = spec
    run = RunInfo(export_id=spec.id, run_id="manual__2026-01-15",
                  data_interval_start=interval[0], data_interval_end=interval[1])  # fmt: skip
    location = run_location(str(folder / dialect.name), spec.id, run.safe_run_id)
    return build_plan(project, spec.id, run, location, dialect)


def parquet_rows(plan: ExportPlan, source) -> list[tuple]:
    """Extract the plan from source; the rows of its Parquet files, in order."""
    from ferry.engine import extract

    manifest = extract(plan, source=source, pii_key=None)
    tables = [pq.read_table(Path(plan.staging_dir) / f.name) for f in manifest.data_files]
    return [tuple(row.values()) for table in tables for row in table.to_pylist()]
