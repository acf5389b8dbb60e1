"""The diff of a changes-only export, through extract, on a warehouse of nasty values."""

from __future__ import annotations

import hashlib
import hmac
import shutil
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from ferry.engine import extract
from ferry.engine.changes import ChangeState
from ferry.exceptions import ExportRejected

from .helpers import PII_KEY, data_paths, read_records


@pytest.fixture
def copy(warehouse: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy.duckdb"
    shutil.copyfile(warehouse, target)
    return target


def diff(plan, source: Path, tmp_path: Path, base: Path | None, name: str):
    work = tmp_path / name
    work.mkdir()
    state = ChangeState(base, work / "state.parquet", work)
    manifest = extract(plan, source=source, pii_key=PII_KEY, changes=state)
    return manifest, state.new


def hmac_of(value: str) -> str:
    return hmac.new(PII_KEY, value.encode(), hashlib.sha256).hexdigest()


def test_a_removed_row_carries_its_key_hashed_as_its_column_is_written(make_plan, copy, tmp_path):
    fields = ["postal_code", "city", "order_count"]
    definition = {"fields": fields, "pii": {"postal_code": "hash"}, "format": {"type": "parquet"},
                  "changes": {"key": "postal_code"}}  # fmt: skip
    plan = make_plan(**definition)
    _, state = diff(plan, copy, tmp_path, None, "first")
    assert pq.read_table(state).column_names == ["key", "fingerprint"]
    with duckdb.connect(str(copy)) as con:
        con.execute("DELETE FROM customer_profile WHERE postal_code = '00007'")
        con.execute("UPDATE customer_profile SET order_count = -1 WHERE postal_code = '00009'")

    manifest, _ = diff(make_plan(**definition), copy, tmp_path, state, "second")

    rows = [r for p in data_paths(plan.staging_dir, manifest) for r in read_records(p, "parquet")]
    removed = {"postal_code": hmac_of("00007"), "city": None, "order_count": None}
    assert rows[0] == {**removed, "_change": "removed"}  # in the order of the hashes sent
    assert (rows[1]["_change"], rows[1]["order_count"]) == ("changed", -1)
    assert rows[1]["postal_code"] == hmac_of("00009")
    assert manifest.changes == {"added": 0, "changed": 1, "removed": 1}


def test_a_key_that_repeats_is_refused_naming_the_value(make_plan, copy, tmp_path):
    with duckdb.connect(str(copy)) as con:
        con.execute("UPDATE customer_profile SET country = 'XX'")
    plan = make_plan(fields=["country"], changes={"key": "country"})
    with pytest.raises(ExportRejected, match="'country' of table customer_profile holds the value"):
        diff(plan, copy, tmp_path, None, "first")


def test_a_null_key_is_refused(make_plan, copy, tmp_path):
    plan = make_plan(fields=["state"], changes={"key": "state"})
    with pytest.raises(ExportRejected, match="holds a null"):
        diff(plan, copy, tmp_path, None, "first")


def test_a_run_of_some_ids_is_refused(make_plan, copy, tmp_path):
    plan = make_plan(fields=["profile_id"], changes=True)
    plan = type(plan)(**{**plan.__dict__, "run": type(plan.run)("fixture_export", "r", ids=(1,))})
    with pytest.raises(ExportRejected, match="send every other row as removed"):
        diff(plan, copy, tmp_path, None, "first")


def test_a_state_says_how_its_fingerprints_were_made(make_plan, copy, tmp_path, caplog):
    plan = make_plan(fields=["profile_id", "city"], changes=True)
    _, state = diff(plan, copy, tmp_path, None, "first")
    metadata = pq.read_schema(state).metadata
    assert metadata[b"ferry.fingerprint"].startswith(b"hash(row(...)) duckdb ")
    older = tmp_path / "older.parquet"
    output = {b"ferry.output": metadata[b"ferry.output"]}  # the same output, another method
    pq.write_table(pq.read_table(state).replace_schema_metadata(output), older)
    manifest, _ = diff(make_plan(fields=["profile_id", "city"], changes=True), copy, tmp_path,
                       older, "second")  # fmt: skip
    assert manifest.changes == {"added": 0, "changed": 0, "removed": 0}
    assert "rows may be sent as changed once" in caplog.text


def test_an_output_type_change_sends_every_row_as_changed(make_plan, copy, tmp_path, caplog):
    definition = {"fields": ["profile_id", "order_count"], "format": {"type": "parquet"},
                  "changes": True}  # fmt: skip
    _, state = diff(make_plan(**definition), copy, tmp_path, None, "first")
    with duckdb.connect(str(copy)) as con:  # the same values, a wider type (hash(5::INT) =
        con.execute("ALTER TABLE customer_profile ALTER order_count TYPE BIGINT")  # 5::BIGINT)
        rows = con.execute("SELECT count(*) FROM customer_profile").fetchone()[0]
    plan = make_plan(**definition)
    widened = tuple(
        replace(c, type="BIGINT") if c.source == "order_count" else c for c in plan.columns
    )
    plan = replace(plan, columns=widened)  # the catalogue says so too

    manifest, _ = diff(plan, copy, tmp_path, state, "second")

    assert manifest.changes == {"added": 0, "changed": rows, "removed": 0}
    records = [
        r for p in data_paths(plan.staging_dir, manifest) for r in read_records(p, "parquet")
    ]
    assert len(records) == rows
    assert "output changed since the base state" in caplog.text
    assert (
        pq.read_schema(data_paths(plan.staging_dir, manifest)[0]).field("order_count").type
        == "int64"
    )


def test_a_pii_key_is_kept_in_the_state_as_sent_never_in_plaintext(make_plan, copy, tmp_path):
    with duckdb.connect(str(copy)) as con:
        con.execute("UPDATE customer_profile SET email = 'secret-' || profile_id || '@example.org'")
        emails = [row[0] for row in con.execute("SELECT email FROM customer_profile").fetchall()]
    definition = {"fields": ["email", "city"], "pii": {"email": "hash"},
                  "format": {"type": "parquet"}, "changes": {"key": "email"}}  # fmt: skip
    _, state = diff(make_plan(**definition), copy, tmp_path, None, "first")
    kept = pq.read_table(state).column("key").to_pylist()
    assert sorted(kept) == sorted(hmac_of(email) for email in emails)
    assert b"example.org" not in state.read_bytes() and b"secret-" not in state.read_bytes()
    gone, moved = emails[:2]
    with duckdb.connect(str(copy)) as con:
        con.execute("DELETE FROM customer_profile WHERE email = ?", [gone])
        con.execute("UPDATE customer_profile SET city = 'Moved' WHERE email = ?", [moved])

    plan = make_plan(**definition)
    manifest, second = diff(plan, copy, tmp_path, state, "second")

    rows = [r for p in data_paths(plan.staging_dir, manifest) for r in read_records(p, "parquet")]
    assert manifest.changes == {"added": 0, "changed": 1, "removed": 1}
    assert sorted((r["email"], r["city"], r["_change"]) for r in rows) == sorted(
        [(hmac_of(gone), None, "removed"), (hmac_of(moved), "Moved", "changed")]
    )
    assert [r["email"] for r in rows] == sorted(r["email"] for r in rows)  # in the hashes' order
    assert sorted(pq.read_table(second).column("key").to_pylist()) == sorted(
        hmac_of(email) for email in emails[1:]
    )
