"""stage: the files' rows cast to the table's types in one temporary table, the rest rejected.

Each file is read (ferry.imports.read: CSV, TSV and JSON values as text), its mapped
columns found by name (by position without a header), and every value cast with TRY_CAST
to its tables.yaml type (the canonical, allow-listed spelling is the only part of a
definition in SQL text). A value that does not cast, or casts but not exactly (rounded or
cut: the rules are ferry.imports.exact's), an empty key, or (merge) a key a later row
repeats makes the row a reject: one line per problem in the rejects table (file, row,
column, value, reason), the row left out of STAGED. Rows are numbered from 1 in file
order, header excluded. Ferry's own columns and aliases start with __ferry, which
tables.yaml refuses for a column (ferry.spec.names), so a table column never shadows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from ferry.engine.formats import formula_guarded
from ferry.imports.errors import BadImportFile
from ferry.imports.exact import lossy
from ferry.imports.files import LocalFile
from ferry.imports.read import RawFile, read_file
from ferry.spec.imports import ImportFormat
from ferry.sql import quote

STAGED = "ferry_staged"
REJECTS = "ferry_rejects"
REJECTS_FILE = "rejects.csv"
_FILE_ROWS = 1 << 40  # SEQ = file index * this + row: one order across files
SEQ, FILE, ROW = "__ferry_seq", "__ferry_file", "__ferry_row"  # STAGED's own columns


@dataclass(frozen=True)
class Column:
    """A loaded column: its name in the file, in the table, and its canonical type."""

    field: str
    name: str
    type: str


@dataclass(frozen=True)
class Staged:
    rows_read: int
    rejected: int  # rows, not problems: a row with two bad values counts once


def create_tables(con: duckdb.DuckDBPyConnection, columns: list[Column]) -> None:
    typed = ", ".join(f"{quote(c.name)} {c.type}" for c in columns)
    con.execute(
        f"CREATE TEMP TABLE {STAGED} ({SEQ} BIGINT, {FILE} VARCHAR, {ROW} BIGINT, {typed})"
    ).fetchall()
    con.execute(
        f"CREATE TEMP TABLE {REJECTS} (_seq BIGINT, file VARCHAR, row BIGINT, "
        "column_name VARCHAR, value VARCHAR, reason VARCHAR)"
    ).fetchall()


def stage_files(
    con: duckdb.DuckDBPyConnection, files: list[LocalFile], fmt: ImportFormat,
    columns: list[Column], key: str | None, *, unique_key: bool, work: Path,
) -> Staged:  # fmt: skip
    """Every file's rows into STAGED (cast) or REJECTS; the key may not be empty, and with
    unique_key only the last row of each key stays (earlier ones are rejected)."""
    create_tables(con, columns)
    rows_read = 0
    for index, file in enumerate(files):
        raw = read_file(con, file, fmt, f"ferry_raw_{index}", work)
        positions = _positions(file, raw.columns, columns, fmt.header)
        _stage_one(con, raw, file.name, index * _FILE_ROWS, positions, columns, key)
        con.execute(f"DROP TABLE {raw.table}").fetchall()
        rows_read += raw.rows
    if unique_key and key:
        _reject_repeated_keys(con, key)
    rejected = con.execute(f"SELECT count(DISTINCT _seq) FROM {REJECTS}").fetchall()[0][0]
    return Staged(rows_read, rejected)


def _positions(file: LocalFile, found: list[str], columns: list[Column], header: bool) -> list[int]:
    """The 1-based position in the file of each column (compared in Python, never SQL)."""
    if not header:
        if len(found) < len(columns):
            raise BadImportFile(
                f"{file.name}: has {len(found)} columns, the import maps {len(columns)} "
                "(without a header, columns are taken in order); nothing was loaded"
            )
        return list(range(1, len(columns) + 1))
    missing = [c.field for c in columns if c.field not in found]
    if missing:
        raise BadImportFile(
            f"{file.name}: no column {', '.join(map(repr, missing))} (the file has "
            f"{', '.join(map(repr, found[:20]))}); map it under columns (field: ..., to: ...) "
            "or fix the file; nothing was loaded"
        )
    repeated = [c.field for c in columns if found.count(c.field) > 1]
    if repeated:
        raise BadImportFile(
            f"{file.name}: the header has {', '.join(map(repr, repeated))} more than once, so "
            "which column is meant is unclear; rename one in the file; nothing was loaded"
        )
    return [found.index(c.field) + 1 for c in columns]


def _stage_one(
    con: duckdb.DuckDBPyConnection, raw: RawFile, name: str, base: int,
    positions: list[int], columns: list[Column], key: str | None,
) -> None:  # fmt: skip
    problems, any_problem = [], []
    for position, column in zip(positions, columns, strict=True):
        column_problems, condition = _column_problems(position, column, column.name == key)
        problems += column_problems
        any_problem.append(f"coalesce({condition}, false)")  # NULL must not drop a row
    bad = " OR ".join(any_problem) or "false"
    casts = ", ".join(
        f"TRY_CAST(#{p} AS {c.type})" for p, c in zip(positions, columns, strict=True)
    )
    staged = con.execute(
        f"INSERT INTO {STAGED} SELECT ? + rowid + 1, ?, rowid + 1, {casts} FROM {raw.table} "
        f"WHERE NOT ({bad})",
        [base, name],
    ).fetchall()[0][0]
    if staged == raw.rows:
        return  # the usual file: one scan, no scan per problem
    for condition, position, column_name, reason in problems:
        con.execute(
            f"INSERT INTO {REJECTS} SELECT ? + rowid + 1, ?, rowid + 1, ?, "
            f"CAST(#{position} AS VARCHAR), ? FROM {raw.table} WHERE {condition}",
            [base, name, column_name, reason],
        ).fetchall()


def _column_problems(position: int, column: Column, is_key: bool) -> tuple[list[tuple], str]:
    """(condition, position, column, reason) of each way the column's value is refused, and
    one condition true when any is (the exactness rules behind their cheap gate once)."""
    value = f"#{position}"
    problems = [
        (f"{value} IS NOT NULL AND TRY_CAST({value} AS {column.type}) IS NULL",
         position, column.name, f"not a {column.type}")
    ]  # fmt: skip
    if is_key:
        problems.append((f"{value} IS NULL", position, column.name, "the key is empty"))
    any_problem = [problem[0] for problem in problems]
    gate, checks = lossy(f"CAST({value} AS VARCHAR)", column.type)
    if checks:
        any_problem.append(f"{gate} AND ({' OR '.join(f'({c})' for c, _ in checks)})")
    for condition, reason in checks:
        problems.append((f"{gate} AND ({condition})", position, column.name, reason))
    return problems, " OR ".join(f"({condition})" for condition in any_problem)


def _reject_repeated_keys(con: duckdb.DuckDBPyConnection, key: str) -> None:
    """Merge updates a key once: the last row of a key is loaded, earlier ones rejected."""
    repeated = f"SELECT 1 FROM {STAGED} GROUP BY {quote(key)} HAVING count(*) > 1 LIMIT 1"
    if not con.execute(repeated).fetchall():
        return  # the usual file: a hash aggregate, not a window over every row
    # only Ferry's own (__ferry) names are selected: no table column can shadow one
    earlier = (
        f"SELECT {SEQ}, {FILE}, {ROW}, CAST({quote(key)} AS VARCHAR) AS __ferry_value, "
        f"row_number() OVER (PARTITION BY {quote(key)} ORDER BY {SEQ} DESC) AS __ferry_nth "
        f"FROM {STAGED}"
    )
    con.execute(
        f"INSERT INTO {REJECTS} SELECT {SEQ}, {FILE}, {ROW}, ?, __ferry_value, "
        "'duplicate key: a later row has the same key and is loaded' "
        f"FROM ({earlier}) WHERE __ferry_nth > 1",
        [key],
    ).fetchall()
    con.execute(f"DELETE FROM {STAGED} WHERE {SEQ} IN (SELECT _seq FROM {REJECTS})").fetchall()


def write_rejects(con: duckdb.DuckDBPyConnection, folder: Path) -> Path | None:
    """The rejects as CSV (file, row, column, value, reason) in folder; None when none
    (and an earlier try's file is removed: it no longer describes the load). Text starting
    = + - @ is prefixed with ' as in exports (ferry.engine.formats.formula_guarded)."""
    path = folder / REJECTS_FILE
    if not con.execute(f"SELECT count(*) FROM {REJECTS}").fetchall()[0][0]:
        path.unlink(missing_ok=True)
        return None
    file, column, value, reason = (
        formula_guarded(quote(name)) for name in ("file", "column_name", "value", "reason")
    )  # the file's name and values are the sender's: a spreadsheet must not run them
    con.sql(
        f"SELECT {file} AS file, row, {column} AS column, {value} AS value, {reason} AS reason "
        f"FROM {REJECTS} ORDER BY _seq, column_name"
    ).write_csv(str(path), header=True)
    return path
