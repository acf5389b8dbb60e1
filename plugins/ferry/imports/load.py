"""load: an import's fetched files into its table, in one transaction, at most once per run.

    files -> read and cast in a DuckDB worker (ferry.imports.stage; bad rows to rejects.csv)
          -> reject rate and expectations checked (nothing written if they fail)
          -> one transaction on the table's connection (ferry.imports.targets)
          -> the ledger remembers the run and its files (ferry.imports.ledger)

Errors are Ferry's (ferry.exceptions): a bad file, a bad definition, too many rejects or a
failed expectation are terminal; a target locked or unreachable is transient. Whatever
fails, the table is as it was.

No rows to load (a header-only file, every row rejected under on_exceed: warn): an
overwrite is refused (terminal, NothingToLoad) rather than empty the table, since an empty
file is far likelier a partner's failed export than an intended "delete everything"; a
merge or append loads nothing, which is what the file says: recorded (0 inserted), logged
as a warning, not an error, so the run and the ledger go on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ferry.imports import ledger
from ferry.imports.errors import ImportSetupError, NothingToLoad, RejectsExceeded
from ferry.imports.expect import check_expectations
from ferry.imports.files import LocalFile
from ferry.imports.stage import STAGED, Column, Staged, stage_files, write_rejects
from ferry.imports.targets import target_for
from ferry.imports.writes import Write, Written
from ferry.sources.base import BATCH_ROWS
from ferry.sources.duckdb_file import open_duckdb
from ferry.spec.catalogues import TableSpec
from ferry.spec.imports import ImportSpec
from ferry.sql import quote


@dataclass(frozen=True)
class ImportResult:
    """What one load did; already_loaded: the run key was loaded before, nothing was now
    (the counts are that earlier load's)."""

    rows_read: int
    inserted: int
    updated: int
    deleted: int
    rejected: int
    skipped_files: list[str]
    rejects_file: str | None
    already_loaded: bool = False

    def summary(self) -> str:
        line = (
            f"{self.rows_read} rows read, {self.inserted} inserted, {self.updated} updated, "
            f"{self.deleted} deleted, {self.rejected} rejected"
        )
        if self.skipped_files:
            line += f", {len(self.skipped_files)} files skipped (loaded before)"
        return line + (f"; rejects in {self.rejects_file}" if self.rejects_file else "")


def load(
    spec: ImportSpec, table: TableSpec, files: list[LocalFile], folder: Path, *,
    run_key: str, force: bool = False, log: logging.Logger,
    keep_rejects: Callable[[Path | None], str | None] = lambda path: str(path) if path else None,
) -> ImportResult:  # fmt: skip
    """Load files into spec's table (table is its tables.yaml entry) by spec.mode.

    The rejects file, if any, is written in folder, then given to keep_rejects, which says
    where everyone finds it (by default where it is); None (no rejects) lets it withdraw
    an earlier try's. A run_key loaded before returns its
    earlier result (already_loaded) unless force; an append skips files loaded before
    unless force.

    Raises:
        BadImportFile, ImportSetupError, RejectsExceeded, NothingToLoad,
        ImportExpectationsFailed, TargetRefused: terminal; TargetBusy: transient. The table
        is unchanged.
    """
    names = [file.name for file in files]
    if not force and (earlier := ledger.loaded_run(spec.id, run_key)) is not None:
        log.info("import %s: run %s was loaded before; not loading again", spec.id, run_key)
        return dataclasses.replace(
            ImportResult(**earlier), skipped_files=names, already_loaded=True
        )
    columns = loaded_columns(spec, table)
    key = _key(spec, table, columns)
    todo, skipped = _files_to_load(spec, files, force, log)
    target, table_name = target_for(spec.table, table)
    written, staged, rejects = Written(), Staged(0, 0), None
    if todo:
        with open_duckdb() as con:
            staged = stage_files(con, todo, spec.format, columns, key,
                                 unique_key=spec.mode == "merge", work=folder)  # fmt: skip
            rejects = keep_rejects(write_rejects(con, folder))
            _check_rejects(spec, staged, rejects, log)
            _check_rows_to_load(spec, staged, log)
            check_expectations(con, spec.expectations, [c.name for c in columns], log)
            rows = con.sql(_select(columns)).to_arrow_reader(BATCH_ROWS)
            write = Write(table_name, {c.name: c.type for c in columns},
                          key if spec.mode == "merge" else None, spec.mode)  # fmt: skip
            written = target.write(rows, write)
    result = ImportResult(
        staged.rows_read, written.inserted, written.updated, written.deleted, staged.rejected,
        skipped, rejects,
    )  # fmt: skip
    ledger.record_load(spec.id, run_key, dataclasses.asdict(result), todo)
    log.info("import %s run %s into %s: %s", spec.id, run_key, spec.table, result.summary())
    return result


def loaded_columns(spec: ImportSpec, table: TableSpec) -> list[Column]:
    """The columns the import loads, each with its file field and tables.yaml type."""
    columns, seen = [], set()
    for field, name in spec.column_pairs(list(table.columns)):
        if name not in table.columns:
            raise ImportSetupError(
                f"import {spec.id}: column {name!r} is not a column of table {spec.table} "
                f"(it has {', '.join(table.columns)}); fix columns"
            )
        if name in seen:
            raise ImportSetupError(f"import {spec.id}: column {name!r} is loaded twice")
        seen.add(name)
        columns.append(Column(field, name, table.columns[name].type))
    return columns


def _key(spec: ImportSpec, table: TableSpec, columns: list[Column]) -> str | None:
    """The key rows are matched on (merge) or kept non-empty (all modes, when loaded)."""
    key = spec.key or table.key
    if key in {c.name for c in columns}:
        return key
    if spec.mode == "merge":
        raise ImportSetupError(
            f"import {spec.id}: merge matches rows on {key!r}, which the import does not "
            "load; add it to columns"
        )
    return None


def _files_to_load(
    spec: ImportSpec, files: list[LocalFile], force: bool, log: logging.Logger
) -> tuple[list[LocalFile], list[str]]:
    """Append skips files an earlier run loaded (same name, size, SHA-256) unless forced."""
    if spec.mode != "append" or force:
        return list(files), []
    loaded = ledger.loaded_files(spec.id, files)
    for name in sorted(loaded):
        log.info("import %s: %s was loaded before (same size and SHA-256); skipped", spec.id,
                 name)  # fmt: skip
    return [f for f in files if f.name not in loaded], [f.name for f in files if f.name in loaded]


def _check_rejects(
    spec: ImportSpec, staged: Staged, rejects: str | None, log: logging.Logger
) -> None:
    if not staged.rejected:
        return
    rate = staged.rejected / staged.rows_read
    message = (
        f"import {spec.id}: {staged.rejected} of {staged.rows_read} rows rejected ({rate:.2%}); "
        f"rejects.max_rate is {spec.rejects.max_rate:.2%}; see {rejects}"
    )
    if rate <= spec.rejects.max_rate:
        log.info("%s", message)
    elif spec.rejects.on_exceed == "warn":
        log.warning("%s; loading the other rows (on_exceed: warn)", message)
    else:
        raise RejectsExceeded(f"{message}; nothing was loaded")


def _check_rows_to_load(spec: ImportSpec, staged: Staged, log: logging.Logger) -> None:
    """An overwrite of no rows would empty the table: refused; a merge or append of none
    loads nothing, said in the log."""
    if staged.rows_read > staged.rejected:
        return
    found = f"{staged.rows_read} rows read, {staged.rejected} rejected"
    if spec.mode == "overwrite":
        raise NothingToLoad(
            f"import {spec.id}: no rows to load ({found}); an overwrite would empty table "
            f"{spec.table}, so nothing was loaded and the table is unchanged; check the file "
            "(an empty export?) and run again"
        )
    log.warning("import %s: no rows to load (%s); %s loads nothing", spec.id, found, spec.mode)


def _select(columns: list[Column]) -> str:
    """The staged rows for the target; UBIGINT travels as DECIMAL(20,0): Postgres has no
    unsigned 64-bit type and ADBC would ingest it as a (signed) bigint."""
    items = [
        f"CAST({quote(c.name)} AS DECIMAL(20,0)) AS {quote(c.name)}"
        if c.type == "UBIGINT" else quote(c.name)
        for c in columns
    ]  # fmt: skip
    return f"SELECT {', '.join(items)} FROM {STAGED}"
