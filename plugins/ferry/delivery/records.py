"""Read staged data files back as records, streaming: csv, tsv, json, jsonl, parquet.

Text files may be plain, gzip or zip (told apart by their first bytes). CSV and TSV
values are text; the manifest's schema turns integer, floating and boolean columns back
into numbers and booleans, and an empty field into null (the output contract writes null
as an empty field).
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
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ferry.column_types import FLOAT_TYPES, INTEGER_TYPES, base_type

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
    if base in INTEGER_TYPES:
        return int
    if base in FLOAT_TYPES:
        return float
    if base == "BOOLEAN":
        return lambda value: value.lower() in ("true", "t", "1")
    return None


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
            yield from batch.to_pylist()


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def to_jsonable(value: Any) -> Any:
    """json.dumps default: dates and times as ISO 8601, decimals as text, bytes as base64."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
