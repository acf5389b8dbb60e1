"""An export's read: in place on DuckDB, pushed down (and typed back) for other sources."""

from __future__ import annotations

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
