"""read: one import file into a temporary DuckDB table, each value as the file holds it.

Files are hostile. Their path and every reader option are bound parameters of the
read_csv / read_json / read_parquet call (never SQL text); their column names are only
compared in Python, and later SQL picks columns by position (#3), so a header such as
`x") ; DROP TABLE t; --` never reaches SQL. CSV and TSV are read as text (all_varchar):
each value is cast to its tables.yaml type afterwards, so a bad value is one rejected
row, not a failed file. The dialect is pinned to RFC 4180 (quote and escape "), no comment
lines, nothing skipped: left to guess, DuckDB's sniffer skips leading lines until the rows
look regular (a short row on line 3 silently dropped the lines before it) and may take #
for a comment. A row of the wrong number of fields fails the file. The column names are
the header as written (DuckDB renames a repeated name; ferry.imports.stage refuses to map
one). JSON and JSONL are read as text too: the records' keys are found first (every
record, so a key that appears only late is still a column), then each value is read as
VARCHAR under explicit columns, with no type detection (a string keeps no JSON quotes, a
timestamp is not rewritten, a large integer keeps its digits; a nested value is its JSON
text); DuckDB's JSON parser reads a number with a fraction as a double (1.10 reads as 1.1;
more than 15 significant digits are rounded, then rejected by a DECIMAL's exactness rule
only when the double shows it), so such numbers are best sent as JSON strings. Each
record must be an object.

DuckDB expands glob characters (* ? [ ]) in any path it reads, even a bound one: each file
is read through a name of Ferry's in the run's folder (a hard link, else a copy), never the
name the sender chose; a zip holds exactly one file, extracted the same way.
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ferry.imports.errors import BadImportFile, ImportSetupError
from ferry.imports.files import LocalFile
from ferry.spec.imports import ImportFormat

_EMPTY_COLUMNS = (["column0"], ["json"])  # what DuckDB names the column of an empty file
_HINTS = {
    "parsing dialect": "rows do not all have the header's number of fields, or the delimiter "
    "is not format.delimiter",
    "expected number of columns": "rows do not all have the header's number of fields",
    "unicode": "the file is not in format.encoding; set it (utf-8, latin-1 or utf-16)",
    "gzip": "the file is truncated or not gzip: fetch it again, or set format.compression",
    "malformed json": "the file is not valid JSON: check format.type (json, jsonl)",
    "parquet": "the file is not valid Parquet: check format.type",
}
_DEFAULT_HINT = "check format (type, delimiter, header, compression) against the file"


@dataclass(frozen=True)
class RawFile:
    """A file read into a temporary table: its column names (in file order) and rows."""

    table: str
    columns: list[str]
    rows: int


def read_file(
    con: duckdb.DuckDBPyConnection, file: LocalFile, fmt: ImportFormat, into: str, work: Path
) -> RawFile:
    """Read file into the temporary table `into` (a name of Ferry's, not the file's).

    Raises:
        BadImportFile: the file is empty, truncated, not the format or not the encoding.
    """
    compression = _compression(file, fmt)
    path = _unzipped(file, work, into) if compression == "zip" else _linked(file, work, into)
    try:
        if path.stat().st_size == 0:
            raise BadImportFile(f"{file.name}: the file is empty; nothing was loaded")
        compression = "none" if compression == "zip" else compression
        try:
            columns, rows = _read_into(con, fmt, str(path), compression, into)
        except duckdb.Error as error:
            raise BadImportFile(_unreadable(file, path, fmt, error)) from None
    finally:
        path.unlink(missing_ok=True)
    if rows == 0 and columns in _EMPTY_COLUMNS:
        raise BadImportFile(f"{file.name}: the file holds no data; nothing was loaded")
    return RawFile(into, columns, rows)


def _read_into(
    con: duckdb.DuckDBPyConnection, fmt: ImportFormat, path: str, compression: str, into: str
) -> tuple[list[str], int]:
    """The file into the table `into`: its column names and row count."""
    if fmt.type in ("json", "jsonl"):
        reader, params = _json_reader(con, fmt, path, compression)
    else:
        reader, params = _reader(fmt, path, compression)
    con.execute(f"CREATE TEMP TABLE {into} AS SELECT * FROM {reader}", params).fetchall()
    columns = con.table(into).columns
    if fmt.type in ("csv", "tsv") and fmt.header:
        columns = _written_header(con, reader, params, columns)
    return columns, con.execute(f"SELECT count(*) FROM {into}").fetchall()[0][0]


def _written_header(
    con: duckdb.DuckDBPyConnection, reader: str, params: list, renamed: list[str]
) -> list[str]:
    """The header as the file writes it: DuckDB renames a repeated name (name, name ->
    name, name_1), which would let a mapped field name_1 pick the second 'name'."""
    as_data = [params[0], False, *params[2:]]  # the same reader, the header line as a row
    row = con.execute(f"SELECT * FROM {reader} LIMIT 1", as_data).fetchone()
    if row is None or len(row) != len(renamed):
        return renamed
    pairs = zip(row, renamed, strict=True)
    return [name if name is not None else fallback for name, fallback in pairs]


def _json_reader(
    con: duckdb.DuckDBPyConnection, fmt: ImportFormat, path: str, compression: str
) -> tuple[str, list]:
    """read_json with every key of every record as a VARCHAR column: no type detection."""
    _text_only(fmt)
    objects = "read_json_objects(?, format = ?, compression = ?)"
    params = [path, "newline_delimited" if fmt.type == "jsonl" else "auto", compression]
    not_objects = con.execute(
        f"SELECT count(*) FILTER (WHERE json_type(json) <> 'OBJECT') FROM {objects}", params
    ).fetchall()[0][0]
    if not_objects:
        raise duckdb.InvalidInputException(
            f"{not_objects} records are not JSON objects ({{...}}); each record is one row"
        )
    keys = con.execute(  # in order of first appearance: record, then place in the record
        "SELECT key FROM (SELECT unnest(keys) AS key, unnest(range(len(keys))) AS place, n "
        f"FROM (SELECT json_keys(json) AS keys, row_number() OVER () AS n FROM {objects})) "
        "GROUP BY key ORDER BY min(n), arg_min(place, n)",
        params,
    ).fetchall()
    if not keys:
        return "(SELECT NULL AS json WHERE false)", []
    _distinct_in_any_case([key for (key,) in keys])
    columns = {key: "VARCHAR" for (key,) in keys}
    return "read_json(?, format = ?, compression = ?, columns = ?)", [*params, columns]


def _compression(file: LocalFile, fmt: ImportFormat) -> str:
    if fmt.compression != "auto":
        return fmt.compression
    name = file.name.lower()
    return "gzip" if name.endswith(".gz") else "zip" if name.endswith(".zip") else "none"


def _reader(fmt: ImportFormat, path: str, compression: str) -> tuple[str, list]:
    """The table function reading the file, and its bound parameters."""
    if fmt.type in ("csv", "tsv"):
        delimiter = fmt.delimiter or ("\t" if fmt.type == "tsv" else ",")
        text = (
            "read_csv(?, header = ?, delim = ?, encoding = ?, compression = ?, "
            "all_varchar = true, null_padding = false, skip = 0, comment = '', "
            "quote = '\"', escape = '\"')"
        )
        return text, [path, fmt.header, delimiter, fmt.encoding, compression]
    _text_only(fmt)
    return "read_parquet(?)", [path]


def _distinct_in_any_case(keys: list[str]) -> None:
    """DuckDB's column names ignore case: keys 'Email' and 'email' cannot both be columns."""
    seen: dict[str, str] = {}
    for key in keys:
        if (earlier := seen.setdefault(key.lower(), key)) != key:
            raise duckdb.InvalidInputException(
                f"the records have keys {earlier!r} and {key!r}, which differ only in case; "
                "column names do not (send one spelling)"
            )


def _text_only(fmt: ImportFormat) -> None:
    if fmt.encoding != "utf-8":
        raise ImportSetupError(
            f"format.encoding {fmt.encoding} applies to csv and tsv; {fmt.type} files are "
            "read as UTF-8: remove encoding"
        )


def _linked(file: LocalFile, work: Path, into: str) -> Path:
    """The file under a name of Ferry's in work (DuckDB would glob-expand the sender's)."""
    target = work / f"{into}.file"
    target.unlink(missing_ok=True)
    try:
        target.hardlink_to(file.path)
    except OSError:  # another file system, or links refused: a copy reads the same
        shutil.copyfile(file.path, target)
    return target


def _unzipped(file: LocalFile, work: Path, into: str) -> Path:
    """The one file a zip holds, copied out under work by a name of Ferry's."""
    try:
        with zipfile.ZipFile(file.path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise BadImportFile(
                    f"{file.name}: a zip must hold exactly one file, this one holds "
                    f"{len(members)}; nothing was loaded"
                )
            target = work / f"{into}.unzipped"
            with archive.open(members[0]) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise BadImportFile(
            f"{file.name}: not a readable zip ({error}); nothing was loaded"
        ) from None
    return target


def _unreadable(file: LocalFile, path: Path, fmt: ImportFormat, error: duckdb.Error) -> str:
    """DuckDB's reason, without the SQL it quotes, and what to check."""
    reason = str(error).split("\n\nLINE ")[0].split("\nPossible Solution")[0].strip()
    reason = reason.replace(str(path), file.name).replace(str(file.path), file.name)
    lowered = reason.lower()
    hint = next((text for word, text in _HINTS.items() if word in lowered), _DEFAULT_HINT)
    return f"{file.name}: cannot be read as {fmt.type}: {reason[:600]}; {hint}; nothing was loaded"
