"""Read staged files back in bounded batches, with the same rules the writers used.

Used by validate (and by anything that checks staged data): a file is never read whole,
except a JSON array, which is one file of at most rows_per_file rows.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from ferry.arrow_values import safe_batch
from ferry.column_types import INTEGER_TYPES, base_type
from ferry.engine.formats import json_as_text
from ferry.manifest import Manifest

BATCH_ROWS = 100_000
BLOCK_BYTES = 16 << 20


@contextlib.contextmanager
def opened(path: Path) -> Iterator[BinaryIO]:
    """The file's decompressed byte stream (gzip, a zip's single entry, or plain)."""
    if path.name.endswith(".gz"):
        with gzip.open(path, "rb") as stream:
            yield stream
    elif path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive, archive.open(archive.namelist()[0]) as stream:
            yield stream
    else:
        with path.open("rb") as stream:
            yield stream


def text_batches(path: Path, names: list[str], delimiter: str) -> Iterator[pa.RecordBatch]:
    """CSV/TSV as strings: an empty field is null, a quoted empty field an empty string."""
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    read = pacsv.ReadOptions(block_size=BLOCK_BYTES)
    with opened(path) as stream:
        yield from pacsv.open_csv(stream, read, parse, convert)


def json_schema(schema: list[dict[str, str]]) -> pa.Schema:
    """The Arrow types JSON values decode to; dates and times are ISO strings."""
    fields = []
    for column in schema:
        base = base_type(column["type"])
        arrow_type = (
            pa.string() if json_as_text(column["type"]) else _JSON_TYPES.get(base, pa.string())
        )
        fields.append(pa.field(column["name"], arrow_type))
    return pa.schema(fields)


_JSON_TYPES = {
    **dict.fromkeys(INTEGER_TYPES, pa.int64()),
    "UBIGINT": pa.uint64(),
    **dict.fromkeys(("DECIMAL", "NUMERIC", "DOUBLE", "FLOAT", "REAL"), pa.float64()),
    "BOOLEAN": pa.bool_(),
}  # HUGEINT, wide DECIMAL and JSON are strings (formats.json_as_text)


def jsonl_batches(path: Path, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    parse = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    with opened(path) as stream:
        yield from pajson.open_json(stream, pajson.ReadOptions(block_size=BLOCK_BYTES), parse)


def json_batches(path: Path, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    with opened(path) as stream:
        records = json.load(stream)
    for start in range(0, len(records), batch_rows):
        yield pa.RecordBatch.from_pylist(records[start : start + batch_rows], schema=schema)


def file_batches(
    path: Path, format_type: str, schema: list[dict[str, str]], batch_rows: int = BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Record batches of one staged data file; schema is the manifest's."""
    names = [column["name"] for column in schema]
    if format_type == "parquet":
        batches = pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
        yield from (safe_batch(batch) for batch in batches)  # BC dates: pandas cannot
    elif format_type in ("csv", "tsv"):
        yield from text_batches(path, names, "," if format_type == "csv" else "\t")
    elif format_type == "jsonl":
        yield from jsonl_batches(path, json_schema(schema))
    else:
        yield from json_batches(path, json_schema(schema), batch_rows)


def staged_batches(folder: Path, manifest: Manifest) -> Iterator[pa.RecordBatch]:
    """Every data file's batches, in file order; empty files have none."""
    for staged in manifest.data_files:
        if staged.rows:
            yield from file_batches(folder / staged.name, manifest.format, manifest.schema)
