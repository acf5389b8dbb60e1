"""count and preview: cheap, and consistent with what extract writes."""

from __future__ import annotations

import pytest

from ferry.engine import count, extract, preview

from .helpers import PII_KEY, data_paths, read_records, read_text_table


@pytest.mark.parametrize("format_type", ["csv", "jsonl", "parquet"])
def test_preview_shows_the_first_rows_as_written(make_plan, warehouse, format_type):
    plan = make_plan(pii={"email": "hash", "phone": "mask"}, format={"type": format_type})
    shown = preview(plan, source=warehouse, pii_key=PII_KEY, limit=7)
    manifest = extract(plan, source=warehouse, pii_key=PII_KEY)
    path = data_paths(plan.staging_dir, manifest)[0]
    if format_type == "csv":
        header, rows = read_text_table(path, ",")
        written = [dict(zip(header, row, strict=True)) for row in rows]
        shown = [{k: "" if v is None else v for k, v in row.items()} for row in shown]
    else:
        written = read_records(path, format_type)
    assert len(shown) == 7
    assert shown == written[:7]
    assert list(shown[0]) == [column.name for column in plan.columns]


@pytest.mark.parametrize(
    "fmt",
    [{"type": "csv"}, {"type": "csv", "compression": "gzip"}, {"type": "jsonl"},
     {"type": "parquet", "compression": "zstd"}],
)  # fmt: skip
def test_count_estimates_every_format_close_to_the_real_size(make_plan, warehouse, fmt):
    plan = make_plan(pii={"email": "hash"}, format=fmt)
    rows, estimate = count(plan, source=warehouse)
    manifest = extract(plan, source=warehouse, pii_key=PII_KEY)
    assert rows == manifest.rows
    assert 0.5 * manifest.bytes <= estimate <= 2 * manifest.bytes


def test_count_of_nothing_is_zero(make_plan, warehouse):
    where = [{"field": "state", "op": "eq", "value": "nowhere"}]
    assert count(make_plan(filters={"where": where}), source=warehouse) == (0, 0)
