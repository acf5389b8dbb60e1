"""Build the deterministic demo warehouse: the tables of tables.yaml, filled with seeded fake data.

The file is written next to its final name and renamed into place, so a failed build leaves
the previous warehouse (or none) untouched. The value pools are in ferry_demo.pools, the SQL
in ferry_demo.blocks and ferry_demo.tables; `python -m ferry_demo` is the command line.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import duckdb

from ferry import paths
from ferry.column_types import canonical_type
from ferry.exceptions import Terminal
from ferry.spec.names import column_name_problem
from ferry.spec.reader import UnreadableFile, display_name, read_yaml
from ferry_demo.blocks import create_macros, window_seconds_until
from ferry_demo.pools import EVENTS_PER_LEAD
from ferry_demo.tables import table_select

CUSTOMER_PROFILES_BY_SIZE = {"small": 20_000, "medium": 200_000, "large": 10_000_000}
# Rows of each table per customer_profile row: the B2B tables are smaller, each lead has 3 events.
ROWS_PER_PROFILE = {
    "customer_profile": 1.0,
    "account": 0.1,
    "contact": 0.5,
    "lead": 1.0,
    "lead_event": 3.0,
}
MEMORY_LIMIT = "2GB"


class ContractError(ValueError, Terminal):
    """tables.yaml cannot be read: another try reads the same file (the CLI prints it)."""


def load_contract(tables_yaml: Path | None = None) -> dict[str, dict[str, str]]:
    """Each table's columns and their DuckDB types, in order, from tables.yaml.

    Read as the loader reads it (bounded, duplicate keys refused), so the warehouse and the
    definitions never see two different files.
    """
    tables_yaml = tables_yaml or paths.include_dir() / "warehouse" / "tables.yaml"
    try:
        tables = read_yaml(tables_yaml, display_name(tables_yaml, tables_yaml.parent.parent))[1]
    except UnreadableFile as error:
        raise ContractError(str(error)) from None
    tables = tables["tables"]
    return {
        name: {
            _column(column): canonical_type(spec["type"])
            for column, spec in table["columns"].items()
        }
        for name, table in tables.items()
    }


def _column(name: str) -> str:
    """Names and types reach the generator's SQL: the loader's allow-lists apply here too."""
    problem = column_name_problem(name)
    if problem:
        raise ValueError(f"tables.yaml: {problem}")
    return name


def row_counts(size: str = "small", rows: int | None = None) -> dict[str, int]:
    """The rows of each table for a size, or for rows customer profiles."""
    if size not in CUSTOMER_PROFILES_BY_SIZE:
        raise ValueError(f"size must be one of {', '.join(CUSTOMER_PROFILES_BY_SIZE)}: {size!r}")
    if rows is not None and rows < 1:
        raise ValueError(f"rows must be at least 1: {rows}")
    profiles = rows if rows is not None else CUSTOMER_PROFILES_BY_SIZE[size]
    counts = {name: max(1, round(profiles * ratio)) for name, ratio in ROWS_PER_PROFILE.items()}
    counts["lead_event"] = counts["lead"] * EVENTS_PER_LEAD
    return counts


def selected_tables(tables: Sequence[str] | None) -> list[str]:
    """The tables to build in the contract's order; all of them when tables is None."""
    known = ", ".join(ROWS_PER_PROFILE)
    unknown = sorted(set(tables or ()) - set(ROWS_PER_PROFILE))
    if unknown:
        raise ValueError(f"unknown table(s) {', '.join(unknown)}; known: {known}")
    if tables is not None and not tables:
        raise ValueError(f"no tables to build; known: {known}")
    return [name for name in ROWS_PER_PROFILE if tables is None or name in tables]


def build_table(
    con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, str], counts: dict[str, int]
) -> int:
    """Create one table with the contract's columns and types, fill it and count its rows."""
    definition = ", ".join(f'"{column}" {type_}' for column, type_ in columns.items())
    con.execute(f'CREATE TABLE "{name}" ({definition})')
    # Selecting the contract's columns by name drops helper columns (first_ascii, loc, ...)
    # and fails loudly when the generator lacks one.
    casts = ", ".join(
        f'CAST("{column}" AS {type_}) AS "{column}"' for column, type_ in columns.items()
    )
    con.execute(f'INSERT INTO "{name}" SELECT {casts} FROM ({table_select(name, counts)})')
    return con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]


def create_row_numbers(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    """A temporary table of the numbers 1..rows that the tables are generated from.

    range() feeds a query on one thread; a table is scanned by all of them, which halves
    the build time on two cores.
    """
    con.execute(f"CREATE TEMP TABLE row_numbers AS SELECT range AS n FROM range(1, {rows + 1})")


def fill(
    database: Path, counts: dict[str, int], names: list[str], seed: int, window_seconds: int
) -> dict[str, int]:
    """Build the named tables into a new DuckDB file, checkpointed so it needs no WAL."""
    contract = load_contract()
    with duckdb.connect(str(database)) as con:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        create_macros(con, seed, window_seconds)
        create_row_numbers(con, max(counts[name] for name in names))
        built = {name: build_table(con, name, contract[name], counts) for name in names}
        con.execute("CHECKPOINT")
    return built


def write_ahead_log(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


def temporary_path(path: Path) -> Path:
    """A fresh hidden name next to path, so the final rename stays on one file system.

    It keeps path's suffix so a leftover of a killed build matches the same ignore rules.
    """
    return path.with_name(f".{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


def build_warehouse(
    path: Path,
    *,
    size: str = "small",
    rows: int | None = None,
    seed: int = 42,
    tables: list[str] | None = None,
    until: dt.date | None = None,
) -> dict[str, int]:
    """Write the demo warehouse to path, atomically, and return the rows of each table.

    Args:
        path: The DuckDB file to create or replace.
        size: small, medium or large; see CUSTOMER_PROFILES_BY_SIZE.
        rows: customer_profile rows instead of the size's; the other tables scale with it.
        seed: The same seed and size always give the same rows.
        tables: Only these tables (all by default).
        until: The rows' timestamps run up to the start of this day (python -m ferry_demo
            passes today, so the demo's daily runs find yesterday's rows); None keeps the
            fixed window of pools.WINDOW_SECONDS, for tests that count rows by date.
    """
    path = Path(path)
    counts, names = row_counts(size, rows), selected_tables(tables)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    try:
        built = fill(temporary, counts, names, int(seed), window_seconds_until(until))
        # A log left by a crashed writer of the old file would be replayed onto the new one.
        write_ahead_log(path).unlink(missing_ok=True)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
        write_ahead_log(temporary).unlink(missing_ok=True)
    return built
