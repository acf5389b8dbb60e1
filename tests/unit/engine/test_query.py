"""The worker's queries: compiled SQL and its bound values, key slices, rows in key order."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import duckdb
import pytest

from ferry.engine.query import (
    KEY_ALIAS,
    Stats,
    key_slices,
    read_batches,
    result_schema,
    sliced_query,
    typed_select,
)
from ferry.engine.read import open_reader
from ferry.sources import DuckDbSource, WarehouseMissing
from ferry.sql import Sql

from .helpers import PII_KEY, ROOT, ROWS, warehouse_rows

PLUGINS = ROOT / "plugins"


def test_the_select_binds_every_value_and_aliases_the_columns(make_plan):
    where = [{"field": "state", "op": "in", "value": ["TX", "x' OR 1=1 --"]}]
    plan = make_plan(fields=["profile_id", "email", "state"], pii={"email": "hash"},
                     filters={"where": where})  # fmt: skip
    select = typed_select(plan, PII_KEY)
    assert "x' OR 1=1" not in select.text and PII_KEY.decode() not in select.text
    assert "TX" in select.params and "x' OR 1=1 --" in select.params
    assert select.text.startswith('SELECT CAST("profile_id" AS BIGINT) AS "c0", ')  # as declared
    assert f'"profile_id" AS "{KEY_ALIAS}" FROM "customer_profile" WHERE (' in select.text


def test_stats_count_the_rows_and_bound_the_key(make_plan, warehouse):
    where = [{"field": "state", "op": "eq", "value": "TX"}]
    plan = make_plan(fields=["profile_id", "state"], filters={"where": where})
    with open_reader(plan, warehouse) as reader:
        found = reader.stats()
    keys = [row[0] for row in warehouse_rows(warehouse, make_plan(fields=["profile_id", "state"]))
            if row[1] == "TX"]  # fmt: skip
    assert found == Stats(len(keys), min(keys), max(keys))


@pytest.mark.parametrize(
    "found, slice_rows, slices",
    [
        (Stats(10, 1, 10), 100, [(None, None)]),
        (Stats(10, "a", "z"), 2, [(None, None)]),  # not an integer key: one slice
        (Stats(10, True, True), 2, [(None, None)]),
        (Stats(10, 1, 10), 5, [(None, 5), (6, None)]),
        (Stats(7, 100, 130), 3, [(None, 110), (111, 121), (122, None)]),
    ],
)
def test_an_integer_key_range_is_cut_into_open_ended_slices(found, slice_rows, slices):
    assert key_slices(found, slice_rows) == slices


def test_a_slice_binds_its_bounds_and_drops_the_key():
    select = Sql(f'SELECT x, k AS "{KEY_ALIAS}" FROM t WHERE y = ?', ("v",))
    query = sliced_query(select, (5, None), limit=3)
    assert query.params == ("v", 5)
    assert f'EXCLUDE ("{KEY_ALIAS}")' in query.text and query.text.endswith("LIMIT 3")
    stored = sliced_query(select, (None, None), ordered=False)
    assert "EXCLUDE" not in stored.text and "ORDER BY" not in stored.text


def test_rows_come_back_in_key_order_whatever_the_slices(make_plan, warehouse):
    plan = make_plan(fields=["profile_id", "city"])
    select = typed_select(plan, None)
    expected = warehouse_rows(warehouse, plan)
    with open_reader(plan, warehouse) as reader:
        found = reader.stats()
        for slice_rows in (None, 7, ROWS):
            slices = key_slices(found, slice_rows)
            batches = read_batches(reader, select, slices, batch_rows=16)
            rows = [tuple(row.values()) for batch in batches for row in batch.to_pylist()]
            assert rows == expected


def test_the_schema_is_known_when_no_row_matches(make_plan, warehouse):
    where = [{"field": "state", "op": "eq", "value": "nowhere"}]
    plan = make_plan(
        fields=["profile_id", "email"], pii={"email": "mask"}, filters={"where": where}
    )
    with open_reader(plan, warehouse) as reader:
        schema = result_schema(reader, typed_select(plan, None))
    assert schema.names == ["c0", "c1"]


def test_a_missing_warehouse_says_how_to_build_it(tmp_path):
    source = DuckDbSource(tmp_path / "nowhere.duckdb", "ferry_warehouse")
    with pytest.raises(WarehouseMissing, match=r"set FERRY_WAREHOUSE.*python -m ferry_demo"):
        source.snapshot().__enter__()


def test_the_connection_is_read_only(warehouse):
    source = DuckDbSource(warehouse, "ferry_warehouse")
    with source.snapshot() as snapshot, pytest.raises(duckdb.Error, match="read-only"):
        snapshot.worker.execute("CREATE TABLE x (a INT)")


def test_reading_in_stored_order_does_not_import_pandas(make_plan, warehouse):
    """The order check ran to_numpy, whose first call imports pandas: ~0.5 s of CPU and
    a held GIL at the start of every extract (issue 16)."""
    plan = make_plan(fields=["profile_id", "email"], pii={"email": "hash"})
    program = (
        "import sys\n"
        "from pathlib import Path\n"
        "import pickle\n"
        "from ferry.engine.query import key_slices, output_select, read_batches\n"
        "from ferry.engine.read import open_reader\n"
        "plan, warehouse, key = pickle.loads(sys.stdin.buffer.read())\n"
        "with open_reader(plan, Path(warehouse)) as reader:\n"
        "    select = output_select(plan, key, reader.relation)\n"
        "    slices = key_slices(reader.stats(), 7)\n"
        "    rows = sum(b.num_rows for b in read_batches(reader, select, slices))\n"
        "print(rows, 'pandas' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], input=pickle.dumps((plan, str(warehouse), PII_KEY)),
        capture_output=True, check=True, env={**os.environ, "PYTHONPATH": str(PLUGINS)},
    )  # fmt: skip
    assert done.stdout.decode().split() == [str(len(warehouse_rows(warehouse, plan))), "False"]
