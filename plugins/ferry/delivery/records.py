"""Read staged data files back as records, streaming: csv, tsv, json, jsonl, parquet.

Text files may be plain, gzip or zip (told apart by their first bytes). CSV and TSV
values are text; the manifest's schema turns integer, floating and boolean columns back
into numbers and booleans, and an empty field into null (the output contract writes null
as an empty field).

Records follow the JSON files' rules for values (see ferry.engine.formats): a DECIMAL of
up to 15 digits is a number, a wider one a string; dates and timestamps that Python cannot
hold (before year 1, after 9999) are ISO 8601 text with an expanded year; NaN and
infinities become null when the records are written as JSON (json_text).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import datetime as dt
import decimal
import gzip
import io
import json
import math
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ferry.arrow_values import python_safe
from ferry.column_types import (
    DECIMAL_TYPES,
    FLOAT_TYPES,
    INTEGER_TYPES,
    base_type,
    decimal_shape,
)

JSON_EXACT_DIGITS = 15  # as ferry.engine.formats: a double holds every 15-digit decimal

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_READ_BYTES = 1 << 16


def iter_records(
    path: Path, fmt: str, schema: list[dict[str, str]] | None = None
) -> Iterator[dict]:
    """Yield each record of a staged data file as a dict, without loading the whole file."""
    if fmt == "parquet":
        yield from _parquet_records(path)
        return
    with _open_decompressed(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        if fmt in ("csv", "tsv"):
            yield from _delimited_records(text, "," if fmt == "csv" else "\t", schema or [])
        elif fmt == "jsonl":
            yield from (json.loads(line) for line in text if line.strip())
        elif fmt == "json":
            yield from _json_array_records(text)
        else:
            raise ValueError(f"cannot read records from format {fmt!r}")


@contextlib.contextmanager
def _open_decompressed(path: Path) -> Iterator[IO[bytes]]:
    with path.open("rb") as stream:
        magic = stream.read(4)
        stream.seek(0)
        if magic.startswith(_GZIP_MAGIC):
            with gzip.GzipFile(fileobj=stream) as unzipped:
                yield unzipped
        elif magic == _ZIP_MAGIC:
            with zipfile.ZipFile(stream) as archive, archive.open(archive.namelist()[0]) as member:
                yield member
        else:
            yield stream


def _delimited_records(text: IO[str], delimiter: str, schema: list[dict]) -> Iterator[dict]:
    casts = {column["name"]: _cast_for(str(column.get("type", ""))) for column in schema}
    for row in csv.DictReader(text, delimiter=delimiter):
        yield {name: _convert(value, casts.get(name)) for name, value in row.items()}


def _cast_for(column_type: str) -> Callable[[str], Any] | None:
    base = base_type(column_type)
    if base in INTEGER_TYPES and base != "HUGEINT":  # HUGEINT: text, as in JSON files
        return int
    if base in FLOAT_TYPES or _exact_as_double(column_type):
        return float
    if base == "BOOLEAN":
        return lambda value: value.lower() in ("true", "t", "1")
    return None


def _exact_as_double(column_type: str) -> bool:
    """A DECIMAL every value of which a double (a JSON reader's number) holds exactly."""
    if base_type(column_type) not in DECIMAL_TYPES:
        return False
    return (decimal_shape(column_type) or (99, 0))[0] <= JSON_EXACT_DIGITS


def _convert(value: str | None, cast: Callable[[str], Any] | None) -> Any:
    if value is None or value == "":
        return None
    if cast is None:
        return value
    try:
        return cast(value)
    except ValueError:
        return value


def _json_array_records(text: IO[str]) -> Iterator[Any]:
    """Items of one top-level JSON array, decoded one at a time from a stream."""
    decoder, buffer, position = json.JSONDecoder(), "", 0
    started = finished = False
    while not finished:
        chunk = text.read(_READ_BYTES)
        buffer = buffer[position:] + chunk
        position = 0
        while True:
            position = _skip_separators(buffer, position)
            if position >= len(buffer):
                break
            if not started:
                if buffer[position] != "[":
                    raise ValueError("a JSON export file must hold one array")
                started, position = True, position + 1
                continue
            if buffer[position] == "]":
                finished = True
                break
            try:
                item, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError:
                if not chunk:
                    raise
                break  # the item continues in the next chunk
            if end == len(buffer) and chunk:
                break  # a number or literal may continue in the next chunk
            position = end
            yield item
        if not chunk and not finished:
            raise ValueError("the JSON array is not closed")


def _skip_separators(buffer: str, position: int) -> int:
    while position < len(buffer) and buffer[position] in " \t\r\n,":
        position += 1
    return position


def _parquet_records(path: Path) -> Iterator[dict]:
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as parquet:
        for batch in parquet.iter_batches(batch_size=10_000):
            yield from _batch_records(batch)


def _batch_records(batch) -> list[dict]:
    """A batch's rows as dicts, by the same value rules as the JSON files."""
    import pyarrow as pa

    columns, floats = [], []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_decimal(field.type) and field.type.precision <= JSON_EXACT_DIGITS:
            floats.append(field.name)
        columns.append(python_safe(column))
    records = pa.RecordBatch.from_arrays(columns, names=batch.schema.names).to_pylist()
    for record in records if floats else ():
        for name in floats:
            if record[name] is not None:
                record[name] = float(record[name])  # exact: at most 15 digits
    return records


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def json_text(payload: Any, **options: Any) -> str:
    """JSON that is JSON: NaN and infinities (which json.dumps writes bare) become null."""
    try:
        return json.dumps(
            payload, ensure_ascii=False, default=to_jsonable, allow_nan=False, **options
        )
    except ValueError:  # rare: only then walk the payload
        return json.dumps(
            _finite(payload), ensure_ascii=False, default=to_jsonable, allow_nan=False, **options
        )


def _iso_utc(moment: dt.datetime) -> str:
    """2026-01-15T10:30:45.25Z: UTC, a fraction only when there is one (naive is UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    fraction = f".{moment.microsecond:06d}".rstrip("0").rstrip(".")
    return f"{moment.year:04d}{moment:-%m-%dT%H:%M:%S}{fraction}Z"  # %Y does not pad


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def to_jsonable(value: Any) -> Any:
    """json.dumps default: dates and times as ISO 8601 (timestamps in UTC as the files write
    them), decimals as text, bytes as base64."""
    if isinstance(value, dt.datetime):
        return _iso_utc(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")  # str() would write -1E-10
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
