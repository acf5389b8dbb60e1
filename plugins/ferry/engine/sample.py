"""count and preview: cheap looks at an export before (or instead of) running it."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
from isal import isal_zlib

from ferry.arrow_values import safe_batch
from ferry.engine import formats, pii, query
from ferry.engine.read import Reader, open_reader
from ferry.engine.sinks import GZIP_LEVEL
from ferry.engine.writers import PARQUET_CODECS, line_bytes
from ferry.plan import ExportPlan
from ferry.sql import Sql, quote

if TYPE_CHECKING:
    from ferry.sources import Source

SAMPLE_ROWS = 2_000
_WIDTH_KEY = b"width-estimate-only"  # hash widths do not depend on the key


def count(plan: ExportPlan, *, source: Source | Path) -> tuple[int, int]:
    """Rows the export would write, and its output bytes estimated from a sample.

    The sample is the first SAMPLE_ROWS rows in key order, rendered and compressed exactly
    as extract would; small samples compress worse, so the estimate errs high.

    Args:
        plan: The run's plan.
        source: Where the table lives (ferry.sources), or the path of a DuckDB file.

    Returns:
        (rows, estimated bytes of all data files).
    """
    with open_reader(plan, source) as reader:
        select = query.output_select(plan, _WIDTH_KEY, reader.relation)
        found = reader.stats()
        if not found.rows:
            return 0, 0
        sample = _first_rows(reader, select, found, SAMPLE_ROWS)
    per_row = _encoded_size(plan, sample) / max(1, sample.num_rows)
    return found.rows, int(per_row * found.rows)


def _first_rows(reader: Reader, select: Sql, found: query.Stats, limit: int) -> pa.Table:
    bounds = query.key_slices(found)[0]
    sliced = query.sliced_query(select, bounds, limit=limit)
    return reader.rows(sliced, bounds, limit).read_all()


def _encoded_size(plan: ExportPlan, sample: pa.Table) -> int:
    fmt = plan.format
    if fmt.type == "parquet":
        buffer = io.BytesIO()
        pq.write_table(sample, buffer, compression=PARQUET_CODECS.get(fmt.compression, "NONE"))
        return buffer.tell()
    column = sample.column(0).combine_chunks()
    text = line_bytes(column).to_pybytes() if len(column) else b""
    if fmt.compression in ("gzip", "zip"):
        return len(isal_zlib.compress(text, GZIP_LEVEL))
    return len(text)


def preview(
    plan: ExportPlan, *, source: Source | Path, pii_key: bytes | None, limit: int = 10
) -> list[dict]:
    """The first rows as the files will hold them: PII applied, renamed, formatted.

    CSV and TSV give each value's text (None for an empty field, a null), JSON formats the
    decoded objects, Parquet the typed values.

    Args:
        plan: The run's plan.
        source: Where the table lives (ferry.sources), or the path of a DuckDB file.
        pii_key: The secret for hash and tokenize.
        limit: How many rows, from the start in key order.

    Returns:
        One dict per row, keyed by output column name, in column order.

    Raises:
        MissingPiiKeyError: a column is hashed or tokenized and pii_key is None.
    """
    pii.require_key(plan.columns, pii_key)
    with open_reader(plan, source) as reader:
        sliced = query.sliced_query(_preview_select(plan, pii_key, reader.relation), limit=limit)
        table = reader.rows(sliced, limit=limit).read_all()
    if plan.format.type in ("json", "jsonl"):
        return [_decoded(line) for line in table.column(0).to_pylist()]
    return [row for batch in table.to_batches() for row in safe_batch(batch).to_pylist()]


def _preview_select(plan: ExportPlan, pii_key: bytes | None, relation: query.Relation) -> Sql:
    """Typed columns for parquet, one JSON object per row for JSON, texts for CSV/TSV."""
    if plan.format.type == "parquet":
        return query.output_select(plan, pii_key, relation)
    inner = query.typed_select(plan, pii_key, relation)
    fields = formats.fields_of(plan.columns, query.output_types(plan))
    if plan.format.type in ("json", "jsonl"):
        items = f"{formats.json_object(fields)} AS line"
    else:
        guard = bool(plan.format.formula_guard)
        items = ", ".join(f"{formats.csv_text(f, guard)} AS {quote(f.name)}" for f in fields)
    text = f"SELECT {items}, {quote(query.KEY_ALIAS)} FROM ({inner.text}) AS rows"
    return Sql(text, inner.params)


def _decoded(line: str) -> dict:
    return json.loads(line, parse_float=Decimal)
