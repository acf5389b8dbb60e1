"""The C HMAC gives Python's hmac bytes, and an export's files do not depend on which
implementation hashed them."""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pytest

from ferry.engine import extract, hmac_native

from .helpers import NASTY, PII_KEY


def python_hmac(key: bytes, value: str | None) -> str | None:
    return None if value is None else hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def test_the_library_is_built_by_setup():
    assert hmac_native.available(), "run scripts/setup: it compiles engine/hmac_sha256.c"


@pytest.mark.parametrize("key", [b"", b"k", b"x" * 64, b"a longer key than one block " * 4])
def test_matches_python_hmac_for_every_nasty_value(key):
    values = pa.array([*NASTY, "x" * 1000, "é" * 100])
    assert hmac_native.hmac_hex(values, key).to_pylist() == [
        python_hmac(key, value) for value in values.to_pylist()
    ]


def test_slices_chunks_and_all_null_input():
    values = pa.array(["a", None, "bc", "", None, "def"] * 50)
    part = values.slice(7, 200)
    assert hmac_native.hmac_hex(part, b"k").to_pylist() == [
        python_hmac(b"k", value) for value in part.to_pylist()
    ]
    chunked = pa.chunked_array([values.slice(0, 3), values.slice(3, 3)])
    assert hmac_native.hmac_hex(chunked, b"k").to_pylist() == [
        python_hmac(b"k", value) for value in values.slice(0, 6).to_pylist()
    ]
    assert hmac_native.hmac_hex(pa.array([None, None], pa.string()), b"k").to_pylist() == [
        None,
        None,
    ]


def test_switched_off_by_environment(monkeypatch):
    monkeypatch.setenv("FERRY_NATIVE_HMAC", "off")
    assert not hmac_native.available()


@pytest.mark.parametrize("fmt", [{"type": "csv", "compression": "gzip"}, {"type": "parquet"}])
def test_export_bytes_are_the_same_with_and_without_it(
    make_plan, warehouse, fmt, monkeypatch, tmp_path
):
    pii = {"email": "hash", "phone": "tokenize"}
    digests = {}
    for native in ("on", "off"):
        monkeypatch.setenv("FERRY_NATIVE_HMAC", native)
        plan = make_plan(
            fields=["profile_id", "email", "phone"], pii=pii, format=fmt, staging=tmp_path / native
        )
        manifest = extract(plan, source=warehouse, pii_key=PII_KEY)
        digests[native] = [(f.name, f.sha256) for f in manifest.data_files]
    assert digests["on"] == digests["off"]


def test_two_connections_to_one_warehouse_both_hash(warehouse):
    from ferry.sources.duckdb_file import open_duckdb

    with open_duckdb(warehouse) as first, open_duckdb(warehouse) as second:
        hmac_native.register(first)
        hmac_native.register(second)
        query = f"SELECT {hmac_native.FUNCTION_NAME}('a', CAST(? AS BLOB))"
        assert first.execute(query, [b"k"]).fetchone() == second.execute(query, [b"k"]).fetchone()


def test_a_column_null_for_whole_vectors_hashes_through_duckdb():
    """DuckDB hands the function an empty vector when all 2048 values of one are null (an
    export hashing a mostly empty column failed with IndexError there)."""
    import duckdb

    con = duckdb.connect()
    hmac_native.register(con)
    con.execute("CREATE TABLE t AS SELECT i, CASE WHEN i >= 4096 THEN 'x' || i END AS v "
                "FROM range(5000) AS r(i)")  # fmt: skip
    query = f"SELECT v, {hmac_native.FUNCTION_NAME}(v, CAST(? AS BLOB)) FROM t ORDER BY i"
    rows = con.execute(query, [b"k"]).fetchall()
    assert len(rows) == 5000
    assert [digest for _, digest in rows] == [python_hmac(b"k", value) for value, _ in rows]
