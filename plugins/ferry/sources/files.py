"""Files sources: a folder of Parquet or CSV files (an Airflow `fs` connection), read in
place by DuckDB.

The connection's folder is its extra {"path": ...} (or its host). A table's tables.yaml
`name:` is a path or glob relative to it: `orders/*.parquet`, `leads/2026-*.csv.gz`, or a
folder (every Parquet or CSV file under it). A snapshot is an in-memory DuckDB in which
each table is a view named exactly as its `name:` (the FILES dialect quotes the whole path
as one identifier), over the files the name matched when the view was made. The views are
built with DuckDB's relational API: Ferry writes no path into SQL text.

Names and folders are hostile: a name may not be absolute or climb (`..`), every file it
matches must resolve (symlinks followed) inside the folder, and a file whose name holds a
glob character, in the folder's path too, is refused (DuckDB would expand it again).
The snapshot's DuckDB is confined to the folder besides (allowed_directories).

Parquet files carry their types. CSV files do not: they are read with the types
tables.yaml declares (the Reader passes them), as RFC 4180 with a header row (a quote
in a quoted field doubled); an empty field is NULL and a quoted empty field an empty
string, as DuckDB's COPY writes them. The file list is fixed when the view
is made: write new files and remove old ones, rather than rewrite a file during a run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import duckdb
import pyarrow as pa

from ferry.sources.base import BATCH_ROWS, SourceError, TableShape
from ferry.sources.duckdb_file import open_duckdb, shape_of
from ferry.sql import FILES, Dialect, Sql, quote

PARQUET = ("parquet", "pq")
DELIMITERS = {"csv": ",", "tsv": "\t"}  # each also gzipped (.csv.gz)
GLOB_CHARACTERS = frozenset("*?[]")


def file_kind(path: PurePosixPath | Path) -> str | None:
    """parquet, csv or tsv by the file's extension (.csv.gz is csv); None for other files."""
    suffixes = [suffix.lower().lstrip(".") for suffix in path.suffixes]
    gzipped = suffixes[-1:] == ["gz"]
    last = suffixes[-2 if gzipped else -1] if len(suffixes) > gzipped else ""
    if last in PARQUET:
        return None if gzipped else "parquet"
    return last if last in DELIMITERS else None


@dataclass(frozen=True)
class FilesSource:
    """A folder of data files; each snapshot is its own in-memory DuckDB."""

    folder: Path
    connection_id: str
    dialect: Dialect = FILES

    @contextmanager
    def snapshot(self) -> Iterator[FilesSnapshot]:
        if not Path(self.folder).is_dir():
            raise SourceError(
                f"connection {self.connection_id}: folder {self.folder} does not exist or is "
                'not a folder: set the connection\'s extra {"path": "/your/folder"}'
            )
        with open_duckdb() as con:
            confine(con, Path(self.folder).resolve())
            yield FilesSnapshot(con, self)


def confine(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """DuckDB itself then reads no file outside the folder (nor a path with `..`), whatever
    SQL the connection runs: a second wall behind the checks of the paths Ferry gives it."""
    con.execute("SET allowed_directories = ?", [[f"{folder}{os.sep}"]])
    con.execute("SET enable_external_access = false")  # cannot be turned back on


class FilesSnapshot:
    """Views over the folder's files, made on first use, in a DuckDB of their own."""

    dialect: Dialect = FILES

    def __init__(self, con: duckdb.DuckDBPyConnection, source: FilesSource) -> None:
        self.worker = con
        self._source = source
        self._root = Path(source.folder).resolve()
        self._views: dict[str, str] = {}  # DuckDB's names ignore case: lower -> name

    def relation(self, name: str, types: Mapping[str, str] | None = None) -> str:
        """The view of the files name matches (made once); types: tables.yaml's columns."""
        made = self._views.get(name.lower())
        if made is None:
            self._read(name, types).create_view(name, replace=False)
            self._views[name.lower()] = name
        elif made != name:
            raise self._error(f"{name!r} and {made!r} differ only in case, which DuckDB ignores")
        return quote(name)

    def query(self, sql: Sql, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
        return self.worker.sql(sql.text, params=list(sql.params)).to_arrow_reader(batch_rows)

    def describe(self, name: str) -> TableShape:
        """Columns from the files' schema (a CSV's sniffed); files have no primary key."""
        relation = self._read(name, None)
        return shape_of(zip(relation.columns, map(str, relation.types), strict=True), None)

    def tables(self, schema: str | None = None) -> list[str]:
        """The data files and the folders holding some, in the folder (or a subfolder)."""
        base = self._inside(self._root / self._relative(schema)) if schema else self._root
        if not base.is_dir():
            raise self._error(f"no folder {schema} in {self._source.folder}")
        found = []
        for entry in sorted(base.iterdir()):
            if self._is_table(entry):
                found.append(entry.relative_to(base).as_posix())
        return [f"{schema.rstrip('/')}/{name}" if schema else name for name in found]

    def _is_table(self, entry: Path) -> bool:
        if not self._is_inside(entry):
            return False
        if entry.is_dir():
            return any(file_kind(path) and path.is_file() for path in entry.rglob("*"))
        return entry.is_file() and file_kind(entry) is not None

    def _read(self, name: str, types: Mapping[str, str] | None) -> duckdb.DuckDBPyRelation:
        files = self.files(name)
        kinds = {file_kind(path) for path in files}
        if len(kinds) > 1:
            raise self._error(
                f"{name} matches files of more than one kind ({', '.join(sorted(kinds))}): "
                "name one kind in tables.yaml, such as orders/*.parquet"
            )
        paths = [str(path) for path in files]
        try:
            if kinds == {"parquet"}:
                return self.worker.read_parquet(paths)
            return self.worker.read_csv(
                paths, header=True, delimiter=DELIMITERS[kinds.pop()], quotechar='"',
                escapechar='"', dtype=dict(types or {}) or None, allow_quoted_nulls=False,
                union_by_name=True,  # by position, files of another column order would mix
            )  # fmt: skip
        except duckdb.Error as error:
            raise self._error(f"{name}: {str(error).strip()}") from None

    def files(self, name: str) -> list[Path]:
        """The data files name matches, each resolved inside the folder, in path order."""
        pattern = self._relative(name)
        if GLOB_CHARACTERS & set(pattern):
            matches = sorted(self._root.glob(pattern))
        else:
            matches = [self._root / pattern] if (self._root / pattern).exists() else []
        files: list[Path] = []
        for match in matches:
            below = sorted(match.rglob("*")) if match.is_dir() else [match]
            files += [path for path in below if file_kind(path) and path.is_file()]
        if not files:
            raise self._error(
                f"no Parquet or CSV file in {self._source.folder} matches {name}: check the "
                "table's name: in tables.yaml and the connection's path"
            )
        return [self._checked_file(path) for path in files]

    def _checked_file(self, path: Path) -> Path:
        """DuckDB reads a path with * ? [ or ] as a glob, which could match files elsewhere
        (`lake[1]/x.csv` reads lake1/x.csv): such a path is refused, the folder's too."""
        resolved = self._inside(path)
        if GLOB_CHARACTERS & set(str(resolved)):
            raise self._error(f"{resolved}: a path with * ? [ or ] is not read (DuckDB globs it)")
        return resolved

    def _relative(self, name: str) -> str:
        """name as a relative path that does not climb: never absolute, never `..`."""
        path = PurePosixPath(name)
        if not name or path.is_absolute() or "\\" in name or ".." in path.parts:
            raise self._error(
                f"{name!r} is not a path inside the folder: use a relative path or glob, "
                "such as orders/*.parquet"
            )
        return path.as_posix()

    def _inside(self, path: Path) -> Path:
        """path resolved (symlinks followed); refused if that leaves the folder."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self._root):
            relative = path.relative_to(self._root).as_posix()
            raise self._error(f"{relative} leads out of the folder {self._source.folder}")
        return resolved

    def _is_inside(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self._root)

    def _error(self, problem: str) -> SourceError:
        return SourceError(f"connection {self._source.connection_id}: {problem}")
