"""Files sources: Parquet and CSV files read in place write the bytes a DuckDB table writes;
segments and contacts_of_accounts work on them; no name reads a file outside the folder."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from tests.unit.engine.helpers import PII_KEY, ROOT, export_spec, nasty_warehouse

from ferry.engine import count, extract
from ferry.plan import build_plan
from ferry.run_info import RunInfo
from ferry.sources import SourceError
from ferry.sources.files import FilesSource, file_kind
from ferry.spec import models
from ferry.spec.loader import load_project
from ferry.sql import FILES, Sql, quote
from ferry.staging import run_location

# COPY options by kind, and each table's name: for it (two files per table, one gzipped)
KINDS = {
    "parquet": ("(FORMAT parquet)", "(FORMAT parquet)", "{t}/*.parquet"),
    "csv": ("(HEADER)", "(HEADER, COMPRESSION gzip)", "{t}_csv/part-*"),
    "tsv": ("(HEADER, DELIMITER '\t')", "(HEADER, DELIMITER '\t', COMPRESSION gzip)", "{t}_tsv"),
}
SUFFIXES = {"parquet": (".parquet", ".parquet"), "csv": (".csv", ".csv.gz"),
            "tsv": (".tsv", ".tsv.gz")}  # fmt: skip


def write_files(warehouse: Path, lake: Path, table: str, key: str, kind: str) -> str:
    """The table as two files of one kind in lake (odd and even keys); its name: there."""
    first, second, name = KINDS[kind]
    folder = lake / name.format(t=table).split("/")[0]
    folder.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for part, (options, suffix) in enumerate(zip((first, second), SUFFIXES[kind], strict=True)):
            path = str(folder / f"part-{part}{suffix}").replace("'", "''")
            rows = f"SELECT * FROM {quote(table)} WHERE {quote(key)} % 2 = {part}"
            con.execute(f"COPY ({rows}) TO '{path}' {options}")
    return name.format(t=table)


def on_files(project, warehouse: Path, lake: Path, kind: str, tables: list[str]):
    """The project with tables moved to a files connection, as files of one kind."""
    for table in tables:
        spec = project.tables[table]
        name = write_files(warehouse, lake, table, spec.key, kind)
        project.tables[table] = spec.model_copy(update={"connection": "lake", "name": name})
    return project


def plan_of(project, export: models.ExportSpec, staging: Path, dialect=None):
    project.exports[export.id] = export
    run = RunInfo(export_id=export.id, run_id="manual__2026-01-15")
    location = run_location(str(staging), export.id, run.safe_run_id)
    extra = {"dialect": dialect} if dialect else {}
    return build_plan(project, export.id, run, location, **extra)


def run_export(project, export: models.ExportSpec, source, staging: Path, dialect=None):
    return extract(plan_of(project, export, staging, dialect), source=source, pii_key=PII_KEY)


def digests(manifest) -> list[tuple[str, str]]:
    return [(staged.name, staged.sha256) for staged in manifest.data_files]


@pytest.fixture(scope="module")
def nasty(tmp_path_factory) -> Path:
    return nasty_warehouse(tmp_path_factory.mktemp("nasty") / "nasty.duckdb")


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("kind", ["parquet", "csv", "tsv"])
def test_an_export_of_files_writes_the_bytes_of_the_same_duckdb_table(kind, fmt, nasty, tmp_path):
    where = [{"field": "state", "op": "in", "value": ["TX", "CA", "x' OR 1=1 --"]}]
    export = export_spec(
        fields="all", pii={"email": "hash", "phone": "mask"}, filters={"where": where},
        format={"type": fmt, "rows_per_file": 70},
    )  # fmt: skip
    from_duckdb = run_export(load_project(ROOT / "include"), export, nasty, tmp_path / "duck")
    project = on_files(load_project(ROOT / "include"), nasty, tmp_path / "lake", kind,
                       ["customer_profile"])  # fmt: skip
    lake = FilesSource(tmp_path / "lake", "lake")
    from_files = run_export(project, export, lake, tmp_path / "files", FILES)
    assert from_files.rows == from_duckdb.rows > 0
    assert digests(from_files) == digests(from_duckdb)


SEGMENT_EXPORTS = {
    "high_value": {"kind": "segment", "source": {"segment": "high_value_customers"},
                   "target": "mailchimp", "fields": ["profile_id", "email", "lifetime_value"],
                   "pii": {"email": "hash"}},
    "contacts": {"kind": "segment", "source": {"segment": "enterprise_accounts"},
                 "target": "mailchimp", "contacts_of_accounts": True,
                 "fields": ["contact_id", "account_id", "email"], "pii": {"email": "keep"}},
}  # fmt: skip


@pytest.mark.parametrize("kind", ["parquet", "csv"])
@pytest.mark.parametrize("name", SEGMENT_EXPORTS)
def test_segments_and_contacts_of_accounts_choose_the_same_rows_from_files(
    name, kind, warehouse, tmp_path
):
    export = export_spec(id=name, **SEGMENT_EXPORTS[name])
    from_duckdb = run_export(load_project(ROOT / "include"), export, warehouse, tmp_path / "duck")
    tables = ["customer_profile", "account", "contact"]
    project = on_files(load_project(ROOT / "include"), warehouse, tmp_path / "lake", kind, tables)
    lake = FilesSource(tmp_path / "lake", "lake")
    from_files = run_export(project, export, lake, tmp_path / "files", FILES)
    assert 0 < from_files.rows == from_duckdb.rows
    assert digests(from_files) == digests(from_duckdb)
    # the limits check counts the same rows
    counted = count(plan_of(project, export, tmp_path / "count", FILES), source=lake)
    assert counted[0] == from_duckdb.rows


@pytest.fixture
def folder(tmp_path) -> Path:
    """A lake folder with two parquet files and a CSV, and a secret file beside it."""
    lake = tmp_path / "lake"
    (lake / "orders").mkdir(parents=True)
    with duckdb.connect() as con:
        for part in (1, 2):
            path = str(lake / "orders" / f"o{part}.parquet")
            con.execute(
                f"COPY (SELECT {part} AS id, 'x{part}' AS note) TO '{path}' (FORMAT parquet)"
            )
    (lake / "leads.csv").write_text("lead_id,score\n1,2.50\n")
    (lake / "README.txt").write_text("not data")
    (tmp_path / "secret.csv").write_text("password\nhunter2\n")
    return lake


def test_describe_and_tables_read_the_folder(folder):
    with FilesSource(folder, "lake").snapshot() as snapshot:
        assert snapshot.tables() == ["leads.csv", "orders"]
        assert snapshot.tables("orders") == ["orders/o1.parquet", "orders/o2.parquet"]
        shape = snapshot.describe("orders/*.parquet")
        assert snapshot.describe("orders").columns == shape.columns
        view = snapshot.relation("leads.csv", {"lead_id": "BIGINT", "score": "DECIMAL(5,2)"})
        rows = snapshot.query(Sql(f"SELECT * FROM {view} WHERE lead_id = ?", (1,))).read_all()
    assert shape.columns == {"id": "INTEGER", "note": "VARCHAR"} and shape.key is None
    assert view == '"leads.csv"' and str(rows.column("score")[0].as_py()) == "2.50"


@pytest.mark.parametrize(
    "name", ["../secret.csv", "/etc/passwd", "orders/../../secret.csv", "..", "escape.csv",
             "escape", "*.csv"],
)  # fmt: skip
def test_no_name_reads_a_file_outside_the_folder(name, folder):
    (folder / "escape.csv").symlink_to(folder.parent / "secret.csv")
    (folder / "escape").symlink_to(folder.parent)
    with FilesSource(folder, "lake").snapshot() as snapshot:
        with pytest.raises(SourceError, match=r"connection lake: .*(not a path inside|leads out)"):
            snapshot.relation(name)
        assert snapshot.tables() == ["leads.csv", "orders"]


def test_two_names_that_differ_only_in_case_are_refused(folder):
    (folder / "Leads.csv").write_text("lead_id\n2\n")
    with FilesSource(folder, "lake").snapshot() as snapshot:
        snapshot.relation("leads.csv")
        with pytest.raises(SourceError, match="differ only in case"):
            snapshot.relation("Leads.csv")


def test_a_glob_matching_no_file_names_the_connection_the_folder_and_the_pattern(folder):
    with FilesSource(folder, "lake").snapshot() as snapshot, pytest.raises(SourceError) as raised:
        snapshot.relation("orders/2027-*.parquet")
    assert str(raised.value).startswith(
        f"connection lake: no Parquet or CSV file in {folder} matches orders/2027-*.parquet"
    )


def test_files_of_two_kinds_a_missing_column_and_a_missing_folder_are_clear(folder, tmp_path):
    (folder / "orders" / "late.csv").write_text("id,note\n3,x\n")
    with FilesSource(folder, "lake").snapshot() as snapshot:
        with pytest.raises(
            SourceError, match=r"orders matches files of more than one kind \(csv, parquet\)"
        ):
            snapshot.relation("orders")
        with pytest.raises(SourceError, match=r"connection lake: leads\.csv: .*missing"):
            snapshot.relation("leads.csv", {"lead_id": "BIGINT", "missing": "VARCHAR"})
    missing = FilesSource(tmp_path / "nowhere", "lake")
    with pytest.raises(SourceError, match=r"connection lake: folder .*nowhere does not exist"):
        missing.snapshot().__enter__()


def test_a_file_kind_comes_from_its_extension():
    names = ("a.parquet", "2026.01.CSV.gz", "b.tsv", "c.json", "d", "e.gz", "f.parquet.gz")
    kinds = [file_kind(Path(name)) for name in names]
    assert kinds == ["parquet", "csv", "tsv", None, None, None, None]


def test_csv_files_of_different_column_orders_are_read_by_name(folder):
    (folder / "people").mkdir()
    (folder / "people" / "a.csv").write_text("id,name\n1,Ann\n")
    (folder / "people" / "b.csv").write_text("name,id\nBob,2\n")
    with FilesSource(folder, "lake").snapshot() as snapshot:
        view = snapshot.relation("people/*.csv", {"id": "BIGINT", "name": "VARCHAR"})
        rows = snapshot.query(Sql(f"SELECT id, name FROM {view} ORDER BY id")).read_all()
    assert rows.to_pylist() == [{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bob"}]


def test_a_folder_whose_path_duckdb_would_glob_is_refused(tmp_path):
    (tmp_path / "lake[1]").mkdir()
    (tmp_path / "lake[1]" / "x.csv").write_text("id\n1\n")
    (tmp_path / "lake1").mkdir()
    (tmp_path / "lake1" / "x.csv").write_text("id\n666\n")
    refused = pytest.raises(SourceError, match=r"lake\[1\]/x\.csv: a path with \* \? \[ or \]")
    with FilesSource(tmp_path / "lake[1]", "lake").snapshot() as snapshot, refused:
        snapshot.relation("x.csv")


def test_the_snapshots_duckdb_reads_no_file_outside_the_folder_whatever_the_sql(folder):
    outside = str(folder.parent / "secret.csv")
    with FilesSource(folder, "lake").snapshot() as snapshot:
        inside = snapshot.query(Sql(f"SELECT * FROM read_csv('{folder}/leads.csv')")).read_all()
        for path in (outside, f"{folder}/../secret.csv"):
            with pytest.raises(duckdb.PermissionException):
                snapshot.query(Sql(f"SELECT * FROM read_csv('{path}')"))
    assert inside.num_rows == 1
