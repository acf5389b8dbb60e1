"""Writers: Arrow batches into numbered files, cut by rows and optionally by bytes.

A file is <name>_<part>.<ext> with part 00001, 00002, ... in key order. Text formats count
bytes before compression (so a compressed file is never over the limit); Parquet counts
Arrow's in-memory size, an estimate.

Parquet compresses inside the file: compression zstd, gzip (Parquet's own GZIP page codec,
the file stays .parquet) or none; zip is refused, as a zipped Parquet file helps nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ferry.engine import formats
from ferry.engine.sinks import PlainSink, open_sink
from ferry.manifest import StagedFile
from ferry.safe_names import inside
from ferry.spec.models import Format

PARQUET_CODECS = {"none": "NONE", "zstd": "ZSTD", "gzip": "GZIP"}
PARQUET_ROW_GROUP_ROWS = 131_072
# A column's dictionary stops growing past this and the rest of its row group is written
# plain: a column of few values keeps its dictionary, a nearly unique one (a key, a hashed
# email, a timestamp) stops hashing every value early. Arrow's default, 1 MiB, kept a
# dictionary of every timestamp of a 100,000-row file: slower to write and a larger file.
PARQUET_DICTIONARY_BYTES = 64 << 10


def part_name(file_name: str, part: int, extension: str) -> str:
    return f"{file_name}_{part:05d}.{extension}"


def line_offsets(column: pa.Array) -> np.ndarray:
    """The byte offsets of each row in a string array's value buffer (length rows + 1)."""
    width = np.int64 if pa.types.is_large_string(column.type) else np.int32
    offsets = np.frombuffer(column.buffers()[1], dtype=width)
    return offsets[column.offset : column.offset + len(column) + 1]


def line_bytes(column: pa.Array, skip: int = 0) -> pa.Buffer:
    """The rows' bytes, zero-copy: the slice of the value buffer they occupy."""
    offsets = line_offsets(column)
    start, end = int(offsets[0]) + skip, int(offsets[-1])
    return column.buffers()[2].slice(start, end - start)


class TextFile:
    """One csv/tsv/json/jsonl file: header, rendered lines, footer."""

    def __init__(self, path: Path, fmt: Format, names: list[str]):
        self.path, self.rows, self.raw_bytes = path, 0, 0
        self._format = fmt
        self._sink = open_sink(path, fmt.compression)
        self._write(formats.header_bytes(fmt.type, names, bool(fmt.formula_guard)))

    def _write(self, data) -> None:
        self._sink.write(data)
        self.raw_bytes += len(data)

    def fits(self, batch: pa.RecordBatch, budget: int) -> int:
        """How many of the batch's first rows fit in budget more bytes."""
        offsets = line_offsets(_line_column(batch))
        ends = offsets[1:] - offsets[0]
        return int(np.searchsorted(ends, budget, side="right"))

    def write(self, batch: pa.RecordBatch) -> None:
        skip = len(formats.JSON_SEPARATOR) if self._format.type == "json" and not self.rows else 0
        self._write(line_bytes(_line_column(batch), skip))
        self.rows += batch.num_rows

    def close(self) -> tuple[int, str]:
        self._write(formats.footer_bytes(self._format.type, self.rows))
        return self._sink.close()


def _line_column(batch: pa.RecordBatch) -> pa.Array:
    column = batch.column(0)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = column.cast(pa.large_string())
    return column


class ParquetFile:
    """One Parquet file; rows are regrouped into fixed row groups, so output is stable."""

    def __init__(self, path: Path, fmt: Format, schema: pa.Schema):
        if fmt.compression == "zip":
            raise ValueError("zip does not apply to parquet: use compression zstd, gzip or none")
        self.path, self.rows, self.raw_bytes = path, 0, 0
        codec = PARQUET_CODECS[fmt.compression]
        self._sink = PlainSink(path)  # hashed as written: the file is not read back
        self._writer = pq.ParquetWriter(
            self._sink, schema, compression=codec,
            dictionary_pagesize_limit=PARQUET_DICTIONARY_BYTES,
        )  # fmt: skip
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0

    def fits(self, batch: pa.RecordBatch, budget: int) -> int:
        per_row = max(1, batch.nbytes // max(1, batch.num_rows))
        return budget // per_row

    def write(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self.rows += batch.num_rows
        self.raw_bytes += batch.nbytes
        if self._pending_rows >= PARQUET_ROW_GROUP_ROWS:
            self._flush(PARQUET_ROW_GROUP_ROWS)

    def _flush(self, group_rows: int | None) -> None:
        """Write whole row groups of group_rows (None: everything pending), keep the rest."""
        table = pa.Table.from_batches(self._pending, self._writer.schema)
        whole = len(table) if group_rows is None else len(table) - len(table) % group_rows
        if whole:
            self._writer.write_table(table.slice(0, whole), row_group_size=group_rows or whole)
        rest = table.slice(whole)
        self._pending, self._pending_rows = rest.to_batches(), len(rest)

    def close(self) -> tuple[int, str]:
        if self._pending_rows:
            self._flush(None)
        self._writer.close()
        return self._sink.close()


@dataclass
class Chunker:
    """Spreads batches over numbered files by rows_per_file and bytes_per_file."""

    folder: Path
    file_name: str
    fmt: Format
    schema: pa.Schema
    names: list[str]

    def __post_init__(self):
        self.files: list[StagedFile] = []
        self._open = None

    def _new_file(self):
        # format.name is checked at load; a file outside the run's folder is refused anyway
        path = inside(
            self.folder, part_name(self.file_name, len(self.files) + 1, self.fmt.extension)
        )
        if self.fmt.type == "parquet":
            return ParquetFile(path, self.fmt, self.schema)
        return TextFile(path, self.fmt, self.names)

    def write(self, batch: pa.RecordBatch) -> None:
        while batch.num_rows:
            current = self._open = self._open or self._new_file()
            take = min(batch.num_rows, self.fmt.rows_per_file - current.rows, self._fit(batch))
            if take == 0:  # the next row would cross bytes_per_file: it starts a new file
                self._close()
                continue
            current.write(batch.slice(0, take))
            batch = batch.slice(take)
            if current.rows >= self.fmt.rows_per_file:
                self._close()

    def _fit(self, batch: pa.RecordBatch) -> int:
        """Rows that fit the byte budget; a file always takes at least its first row."""
        if not self.fmt.bytes_per_file:
            return batch.num_rows
        reserve = len(formats.footer_bytes(self.fmt.type, 1))
        budget = self.fmt.bytes_per_file - self._open.raw_bytes - reserve
        fitting = self._open.fits(batch, budget) if budget > 0 else 0
        return fitting or (0 if self._open.rows else 1)

    def _close(self) -> None:
        size, digest = self._open.close()
        self.files.append(StagedFile(self._open.path.name, self._open.rows, size, digest))
        self._open = None

    def finish(self) -> list[StagedFile]:
        """Close the last file; an empty result still gets one (header-only) file."""
        if self._open is None and not self.files:
            self._open = self._new_file()
        if self._open is not None:
            self._close()
        return self.files
