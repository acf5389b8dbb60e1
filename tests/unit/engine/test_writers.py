"""Writers and the chunker: names, row and byte cuts, zero-copy line buffers."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ferry.engine import formats, query
from ferry.engine.writers import (
    PARQUET_DICTIONARY_BYTES,
    Chunker,
    ParquetFile,
    line_bytes,
    part_name,
)
from ferry.spec.models import Format


def test_part_names_are_five_digit_and_start_at_one():
    assert part_name("daily_lead_backup", 1, "csv.gz") == "daily_lead_backup_00001.csv.gz"
    assert part_name("x", 12345, "parquet") == "x_12345.parquet"


def test_line_bytes_of_a_slice_are_its_rows_only():
    column = pa.array(["a,1\n", "bb,2\n", "ccc,3\n", "d,4\n"])
    assert line_bytes(column.slice(1, 2)).to_pybytes() == b"bb,2\nccc,3\n"
    assert line_bytes(column.slice(0, 1), skip=1).to_pybytes() == b",1\n"


def lines(count: int, width: int = 9) -> pa.RecordBatch:
    rows = [f"{i:0{width - 1}d}\n" for i in range(count)]
    return pa.record_batch({formats.LINE_COLUMN: pa.array(rows)})


@pytest.mark.parametrize(("rows_per_file", "expected"), [(4, [4, 4, 2]), (1, [1] * 10)])
def test_chunker_cuts_by_rows_across_batches(tmp_path, rows_per_file, expected):
    fmt = Format(type="csv", rows_per_file=rows_per_file)
    chunker = Chunker(tmp_path, "t", fmt, pa.schema([]), ["id"])
    for batch in (lines(3), lines(0), lines(7)):
        chunker.write(batch)
    files = chunker.finish()
    assert [staged.rows for staged in files] == expected
    assert [staged.name for staged in files][:2] == ["t_00001.csv", "t_00002.csv"]


def test_chunker_cuts_by_bytes_at_row_boundaries(tmp_path):
    fmt = Format(type="csv", bytes_per_file=40)  # header "id\n" (3) + four 9-byte rows
    chunker = Chunker(tmp_path, "t", fmt, pa.schema([]), ["id"])
    chunker.write(lines(10))
    files = chunker.finish()
    assert [staged.rows for staged in files] == [4, 4, 2]
    assert all(staged.bytes <= 40 for staged in files)


def test_a_row_larger_than_bytes_per_file_gets_a_file_of_its_own(tmp_path):
    fmt = Format(type="csv", bytes_per_file=10)
    chunker = Chunker(tmp_path, "t", fmt, pa.schema([]), ["id"])
    chunker.write(lines(3, width=30))
    assert [staged.rows for staged in chunker.finish()] == [1, 1, 1]


def test_key_slices_cover_every_key_with_open_ends():
    slices = query.key_slices(query.Stats(rows=1000, low=5, high=2004), slice_rows=300)
    assert slices[0][0] is None and slices[-1][1] is None
    assert len(slices) == 4
    for (_, high), (low, _) in itertools.pairwise(slices):
        assert low == high + 1
    assert query.key_slices(query.Stats(rows=10, low="a", high="z"), 3) == [(None, None)]


@pytest.mark.parametrize("name", ["../../../../x", "/tmp/ferry-outside", "a/b"])
def test_no_file_is_written_outside_the_run_folder_even_past_the_loader(tmp_path, name):
    run = tmp_path / "staging" / "export" / "run"
    run.mkdir(parents=True)
    fmt = Format.model_construct(**{**dict(Format()), "name": name})  # skips the load check
    chunker = Chunker(run, name, fmt, pa.schema([]), ["id"])
    with pytest.raises(ValueError, match="not a plain file name"):
        chunker.write(lines(3))
    outside = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert outside == [] and not Path("/tmp/ferry-outside_00001.csv").exists()


def profiles(rows: int) -> pa.Table:
    """A unique key, a nearly unique hex text (a hashed email) and a column of 4 values."""
    return pa.table({
        "id": pa.array(range(rows), pa.int64()),
        "email": [hashlib.sha256(str(i).encode()).hexdigest() for i in range(rows)],
        "tier": [("gold", "silver", "bronze", "none")[i % 4] for i in range(rows)],
    })  # fmt: skip


def dictionary_bytes(path: Path) -> dict[str, int]:
    """Each column's dictionary page as stored (0: none)."""
    metadata = pq.ParquetFile(path).metadata.row_group(0)
    columns = [metadata.column(i) for i in range(metadata.num_columns)]
    return {
        c.path_in_schema: (c.data_page_offset - c.dictionary_page_offset) * c.has_dictionary_page
        for c in columns
    }


def test_parquet_stops_the_dictionary_of_a_nearly_unique_column_early(tmp_path):
    table, path = profiles(50_000), tmp_path / "p_00001.parquet"
    parquet = ParquetFile(path, Format(type="parquet", compression="zstd"), table.schema)
    for batch in table.to_batches(max_chunksize=7_000):
        parquet.write(batch)
    size, digest = parquet.close()
    assert (size, digest) == (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
    assert pq.read_table(path).equals(table)
    dictionaries = dictionary_bytes(path)
    assert 0 < dictionaries["tier"] < 100  # 4 values
    assert dictionaries["email"] <= PARQUET_DICTIONARY_BYTES  # not 50,000 x 64 bytes
