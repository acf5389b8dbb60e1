"""A DuckDB warehouse written in one transaction: readers see the table before or after."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import duckdb
import pyarrow as pa
import pytest
from tests.unit.imports.helpers import HEADER, import_spec, run, table_spec, write_file

from duckdb_lock import held_by_another_process
from ferry.exceptions import kind_of
from ferry.imports.duckdb_target import DuckDbTarget, _duckdb_error
from ferry.imports.errors import ImportSetupError, TargetBusy, TargetRefused, TargetUnusable
from ferry.imports.writes import Write
from ferry.sources.duckdb_file import MEMORY_LIMIT, THREADS

ROWS = 200_000
SHAPE = "SELECT count(*), sum(lead_id), CAST(sum(score) AS DOUBLE) FROM lead"
# Another process reading the file over and over until the stop file appears, then once
# more: the set of (count, sums) its reads saw. A read that finds the file locked retries.
_READER = """
import duckdb, pathlib, sys, time
seen, stop = set(), pathlib.Path(sys.argv[3])
while True:
    last = stop.exists()
    try:
        with duckdb.connect(sys.argv[1], read_only=True) as con:
            seen.add(con.execute(sys.argv[2]).fetchall()[0])
    except duckdb.Error:
        last = False  # locked by the loader: read again
    if last:
        break
    time.sleep(0.005)
print(repr(sorted(seen)))
"""


def _big_table(path) -> tuple:
    with duckdb.connect(str(path)) as con:
        con.execute("DELETE FROM lead").fetchall()
        con.execute(
            "INSERT INTO lead SELECT i, 'm' || i, 1, DATE '2026-01-01' FROM range(?) AS t(i)",
            [ROWS],
        ).fetchall()
        return con.execute(SHAPE).fetchall()[0]


def _merge_file(folder):
    body = "".join(f"{n},n{n},2,2026-02-02\n" for n in range(ROWS // 2, ROWS + ROWS // 2))
    return write_file(folder, "big.csv", HEADER + body)


def test_a_reader_in_the_same_process_sees_before_or_after(warehouse, folder):
    before = _big_table(warehouse)
    file, seen, done = _merge_file(folder), set(), threading.Event()
    config = {"memory_limit": MEMORY_LIMIT, "threads": THREADS}  # the loader's: one instance

    def read():
        with duckdb.connect(str(warehouse), config=config) as con:
            while not done.is_set():
                seen.add(con.execute(SHAPE).fetchall()[0])

    reader = threading.Thread(target=read)
    reader.start()
    try:
        result = run(import_spec("merge"), [file], folder)
    finally:
        done.set()
        reader.join()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        after = con.execute(SHAPE).fetchall()[0]
    assert (result.inserted, result.updated) == (ROWS // 2, ROWS // 2)
    assert before in seen and seen <= {before, after}


def test_a_reader_in_another_process_sees_before_or_after(warehouse, folder):
    before = _big_table(warehouse)
    file = _merge_file(folder)
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(warehouse), SHAPE, str(folder / "stop")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    run(import_spec("merge"), [file], folder)
    (folder / "stop").touch()
    seen = eval(reader.communicate(timeout=90)[0])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        after = con.execute(SHAPE).fetchall()[0]
    assert set(seen) <= {before, after} and after in seen


def test_the_load_waits_for_another_process_to_release_the_file(warehouse, folder):
    file = write_file(folder, "a.csv", HEADER + "3,c@x.org,3,\n")
    started = time.monotonic()
    with held_by_another_process(warehouse, seconds=1.5):
        assert run(import_spec("merge"), [file], folder).inserted == 1
    assert time.monotonic() - started > 1


def test_a_failed_statement_rolls_back_the_whole_load(warehouse):
    rows = pa.table({"lead_id": [1, 50], "email": ["new", "x"]}).to_reader()
    target = DuckDbTarget(warehouse, "ferry_warehouse")
    write = Write('"lead"', {"lead_id": "BIGINT", "email": "VARCHAR"}, None, "overwrite")
    # overwrite DELETEs, then the INSERT fails on a column the table lacks: nothing stays
    bad = Write('"lead"', {"lead_id": "BIGINT", "phone": "VARCHAR"}, None, "overwrite")
    with pytest.raises(TargetRefused, match="phone"):
        target.write(pa.table({"lead_id": [1], "phone": ["x"]}).to_reader(), bad)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM lead").fetchall() == [(2,)]
    assert target.write(rows, write).deleted == 2


def test_a_missing_warehouse_is_not_created(tmp_path):
    target = DuckDbTarget(tmp_path / "nowhere.duckdb", "ferry_warehouse")
    with pytest.raises(ImportSetupError, match=r"nowhere.duckdb .* does not exist"):
        target.write(
            pa.table({"a": [1]}).to_reader(), Write('"t"', {"a": "BIGINT"}, None, "append")
        )
    assert not (tmp_path / "nowhere.duckdb").exists()


@pytest.mark.parametrize(
    ("make", "problem", "hint"),
    [
        (lambda path: path.write_bytes(b"not a database" * 500), "not a valid DuckDB database",
         "the file is not a DuckDB database"),
        (lambda path: path.mkdir(), "Is a directory", "the connection's path is a folder"),
    ],
    ids=["not-a-database", "a-folder"],
)  # fmt: skip
def test_a_warehouse_that_cannot_be_opened_is_terminal_at_once(tmp_path, make, problem, hint):
    """Only another process's lock is worth waiting for: no wait, no retry, the fix said."""
    path = tmp_path / "warehouse.duckdb"
    make(path)
    started = time.monotonic()
    with pytest.raises(TargetUnusable) as caught:
        DuckDbTarget(path, "ferry_warehouse").write(
            pa.table({"a": [1]}).to_reader(), Write('"t"', {"a": "BIGINT"}, None, "append")
        )
    assert time.monotonic() - started < 5  # not LOCK_WAIT (30 s) of retries
    assert kind_of(caught.value) == "terminal"
    assert problem in str(caught.value) and hint in str(caught.value)
    assert "connection ferry_warehouse (duckdb)" in str(caught.value)


@pytest.mark.parametrize(
    ("error", "kind", "text"),
    [
        (duckdb.IOException('IO Error: Cannot open file "/w.duckdb": Permission denied'),
         TargetUnusable, "give the worker's user read and write access"),
        (duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate 16 MiB"),
         TargetUnusable, f"at most {MEMORY_LIMIT} of memory: load smaller files"),
        (duckdb.IOException('IO Error: Could not set lock on file "/w.duckdb": Conflicting '
                            "lock is held in python (PID 1)"), TargetBusy, "the load is retried"),
        (duckdb.ConstraintException("Constraint Error: Duplicate key"), TargetRefused,
         "the table is unchanged"),
    ],
    ids=["permission", "out-of-memory", "lock", "constraint"],
)  # fmt: skip
def test_only_a_lock_or_conflict_is_transient(error, kind, text):
    """DuckDB's own exception classes with its messages (permission cannot be denied to
    root, nor memory run out on purpose, in a test)."""
    classified = _duckdb_error(error, "ferry_warehouse")
    assert type(classified) is kind and text in str(classified)


@pytest.mark.parametrize("name", ["ferry_incoming", "__ferry_incoming"])
@pytest.mark.parametrize("mode", ["merge", "append", "overwrite"])
def test_a_table_named_like_ferrys_temporary_one_is_loaded(warehouse, folder, name, mode):
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"ALTER TABLE lead RENAME TO {name}")
    first = "4,d@x.org,4,\n" if mode == "append" else "2,new@x.org,9,2026-02-02\n"
    file = write_file(folder, "leads.csv", HEADER + first + "3,c@x.org,3,\n")
    result = run(import_spec(mode), [file], folder, table=table_spec(name=name))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(f"SELECT lead_id, email FROM {name} ORDER BY lead_id").fetchall()
    expected = {
        "merge": [(1, "a@x.org"), (2, "new@x.org"), (3, "c@x.org")],
        "append": [(1, "a@x.org"), (2, "b@x.org"), (3, "c@x.org"), (4, "d@x.org")],
        "overwrite": [(2, "new@x.org"), (3, "c@x.org")],
    }[mode]
    assert rows == expected and result.inserted == (1 if mode == "merge" else 2)
