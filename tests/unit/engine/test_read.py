"""An export's read: in place on DuckDB, pushed down (and typed back) for other sources."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from ferry.engine.read import _cast, _plain, open_reader, pushed_query
from ferry.sources.postgres import PostgresSnapshot, PostgresSource
from ferry.sql import POSTGRES, Sql

from .helpers import warehouse_rows


def test_a_duckdb_file_is_read_in_place_with_the_filter_applied_there(make_plan, warehouse):
    where = [{"field": "state", "op": "eq", "value": "TX"}]
    plan = make_plan(fields=["profile_id", "state"], filters={"where": where})
    with open_reader(plan, warehouse) as reader:
        assert reader.in_place and reader.relation.text == '"customer_profile"'
        assert reader.relation.where == plan.where
        found = reader.stats()
    every = warehouse_rows(warehouse, make_plan(fields=["profile_id", "state"]))
    assert found.rows == sum(1 for _, state in every if state == "TX")


def test_a_narrowed_read_chooses_fewer_rows_and_leaves_the_read_as_it_was(make_plan, warehouse):
    plan = make_plan(fields=["profile_id", "state"])
    with open_reader(plan, warehouse) as reader:
        texas = reader.narrowed(Sql('"state" = ?', ("TX",)))
        narrowed, whole = texas.stats(), reader.stats()
        assert texas.relation.where.params == ("TX",) and reader.relation.where == plan.where
    every = warehouse_rows(warehouse, plan)
    assert narrowed.rows == sum(1 for _, state in every if state == "TX") < whole.rows


def test_a_pushed_down_read_chooses_columns_rows_and_one_key_slice_in_key_order(
    make_plan, tmp_path
):
    where = [{"field": "state", "op": "in", "value": ["TX", "x' OR 1=1"]}]
    plan = make_plan(fields=["email", "city"], pii={"email": "hash"}, filters={"where": where},
                     dialect=POSTGRES)  # fmt: skip
    snapshot = PostgresSnapshot(None, PostgresSource("postgresql://h/db", "pg"))
    types = {"profile_id": "int8", "email": "text", "city": "text"}
    pushed = pushed_query(plan, snapshot, (10, None), limit=5, source_types=types)
    assert pushed.text.startswith(
        'SELECT "profile_id", "email" COLLATE "C" AS "email", "city" COLLATE "C" AS "city" '
        'FROM "customer_profile"'
    )
    assert '"profile_id" >= CAST(? AS BIGINT)' in pushed.text
    assert pushed.text.endswith('ORDER BY "profile_id" LIMIT 5')
    assert pushed.params == ("TX", "x' OR 1=1", 10) and "x' OR" not in pushed.text


def test_extension_columns_become_their_storage_and_arrays_json():
    json_type = pa.json_(pa.string())
    batch = pa.record_batch(
        [pa.array([1]), pa.ExtensionArray.from_storage(json_type, pa.array(['{"a": 1}'])),
         pa.array([[1, 2]])],
        names=["id", "doc", "tags"],
    )  # fmt: skip
    reader = _plain(pa.RecordBatchReader.from_batches(batch.schema, [batch]))
    assert reader.schema.field("doc").type == pa.string()
    assert reader.read_all().column("doc").to_pylist() == ['{"a": 1}']
    assert _cast(pa.field("tags", pa.list_(pa.int32())), "JSON") == (
        'CAST(to_json("tags") AS JSON) AS "tags"'
    )
    assert _cast(pa.field("id", pa.int32()), "BIGINT") == 'CAST("id" AS BIGINT) AS "id"'


class PlainSnapshot:
    """A snapshot of a new source written to the Snapshot protocol: no pushed_column."""

    dialect = POSTGRES
    worker = None

    def relation(self, name: str, types=None) -> str:
        return f'"{name}"'


def test_a_snapshot_without_pushed_column_gets_its_columns_as_they_are(make_plan):
    plan = make_plan(fields=["state", "city"], dialect=POSTGRES)
    pushed = pushed_query(plan, PlainSnapshot(), (None, None), limit=None)
    assert pushed.text.startswith('SELECT "profile_id", "city", "state" FROM "customer_profile"')


def test_the_count_scan_leaves_no_table_blocks_cached_for_the_read(make_plan, tmp_path):
    """The stats scan reads the key and filter columns of the whole table; kept in DuckDB's
    cache, they made peak memory grow with the table's size (issue 16: 346 MiB at 10M
    rows against 276 MiB at 1M)."""
    path = tmp_path / "wide.duckdb"
    with duckdb.connect(str(path)) as con:  # random times: blocks that do not compress away
        con.execute(
            "CREATE TABLE customer_profile AS SELECT i AS profile_id, TIMESTAMP '2026-01-01' "
            "+ to_seconds(CAST(hash(i) % 20000000 AS BIGINT)) AS updated_at "
            "FROM range(4000000) AS r(i)"
        )
    window = {
        "date_column": "updated_at",
        "date_range": {"start": "2026-01-01", "end": "2026-05-01"},
    }
    plan = make_plan(fields=["profile_id", "updated_at"], filters=window)
    with open_reader(plan, path) as reader:
        assert reader.stats().rows > 0
        cached = reader.con.execute(
            "SELECT sum(memory_usage_bytes) FROM duckdb_memory()"
        ).fetchone()
    assert cached[0] <= 16 << 20  # EVICT_LIMIT
