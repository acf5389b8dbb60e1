"""Staged files read back in batches, by the same rules the writers used, in every format."""

from __future__ import annotations

import pytest

from ferry.engine import extract
from ferry.engine.staged import file_batches, opened, staged_batches

from .helpers import ROWS, data_paths, decompressed, warehouse_rows

FORMATS = [
    {"type": "csv", "compression": "gzip", "rows_per_file": 70},
    {"type": "tsv", "compression": "zip", "rows_per_file": 70},
    {"type": "jsonl", "rows_per_file": 70},
    {"type": "json", "rows_per_file": 70},
    {"type": "parquet", "rows_per_file": 70},
]


@pytest.mark.parametrize("fmt", FORMATS, ids=[f["type"] for f in FORMATS])
def test_every_staged_row_comes_back_in_order(make_plan, warehouse, fmt):
    plan = make_plan(fields=["profile_id", "state"], format=fmt)
    manifest = extract(plan, source=warehouse, pii_key=None)
    batches = list(staged_batches(plan.staging_dir, manifest))
    assert len(batches) >= 4  # one file of 70 rows at least per batch
    rows = [row for batch in batches for row in batch.to_pylist()]
    assert len(rows) == ROWS
    expected = warehouse_rows(warehouse, plan)
    ids = [int(row["profile_id"]) for row in rows]
    assert ids == [key for key, _ in expected]
    states = [row["state"] for row in rows]
    assert states == [state for _, state in expected]  # an empty CSV field is null


def test_a_file_is_read_in_bounded_batches(make_plan, warehouse):
    plan = make_plan(fields=["profile_id"], format={"type": "json", "rows_per_file": ROWS})
    manifest = extract(plan, source=warehouse, pii_key=None)
    [path] = data_paths(plan.staging_dir, manifest)
    sizes = [b.num_rows for b in file_batches(path, "json", manifest.schema, batch_rows=50)]
    assert sizes == [50, 50, 50, 50, ROWS - 200]


@pytest.mark.parametrize("compression", ["gzip", "zip", "none"])
def test_opened_gives_the_decompressed_bytes(make_plan, warehouse, compression):
    plan = make_plan(fields=["profile_id"], format={"type": "csv", "compression": compression})
    manifest = extract(plan, source=warehouse, pii_key=None)
    [path] = data_paths(plan.staging_dir, manifest)
    with opened(path) as stream:
        assert stream.read() == decompressed(path)


def test_an_empty_file_has_no_batches(make_plan, warehouse):
    where = [{"field": "state", "op": "eq", "value": "nowhere"}]
    plan = make_plan(fields=["profile_id"], filters={"where": where})
    manifest = extract(plan, source=warehouse, pii_key=None)
    assert manifest.rows == 0 and list(staged_batches(plan.staging_dir, manifest)) == []
