"""load on a DuckDB warehouse: modes row by row, the ledger, rejects, all or nothing."""

from __future__ import annotations

import contextlib
import csv

import pytest
from tests.unit.imports.helpers import (
    HEADER,
    START_ROWS,
    import_spec,
    local_file,
    run,
    table_rows,
    table_spec,
    write_file,
)

from duckdb_lock import held_by_another_process
from ferry.exceptions import kind_of
from ferry.imports import duckdb_target
from ferry.imports import load as load_module
from ferry.imports.errors import (
    BadImportFile,
    ImportExpectationsFailed,
    ImportSetupError,
    NothingToLoad,
    RejectsExceeded,
    TargetBusy,
    TargetRefused,
)
from ferry.sources.duckdb_file import open_duckdb

BEFORE = [(1, "a@x.org", 1.5, "2026-01-01"), (2, "b@x.org", 2.5, "2026-01-02")]


def test_merge_updates_matching_keys_and_inserts_the_rest(warehouse, folder):
    file = write_file(folder, "leads.csv", HEADER + "2,new-b@x.org,9,2026-02-02\n3,c@x.org,3,\n")
    result = run(import_spec("merge"), [file], folder)
    assert (result.rows_read, result.inserted, result.updated, result.rejected) == (2, 1, 1, 0)
    assert table_rows(warehouse) == [
        (1, "a@x.org", 1.5, "2026-01-01"),
        (2, "new-b@x.org", 9.0, "2026-02-02"),
        (3, "c@x.org", 3.0, None),
    ]


def test_merge_leaves_unmapped_columns_as_they_were(warehouse, folder):
    file = write_file(folder, "leads.csv", "id,mail\n1,z@x.org\n")
    spec = import_spec("merge", columns=[{"field": "id", "to": "lead_id"},
                                         {"field": "mail", "to": "email"}])  # fmt: skip
    run(spec, [file], folder)
    assert table_rows(warehouse)[0] == (1, "z@x.org", 1.5, "2026-01-01")


def test_append_adds_rows_and_overwrite_replaces_them(warehouse, folder):
    first = write_file(folder, "a.csv", HEADER + "3,c@x.org,3,2026-03-03\n")
    assert run(import_spec("append"), [first], folder).inserted == 1
    assert [row[0] for row in table_rows(warehouse)] == [1, 2, 3]
    second = write_file(folder, "b.csv", HEADER + "7,g@x.org,7,2026-07-07\n")
    result = run(import_spec("overwrite"), [second], folder, run_key="leads.manual__2")
    assert (result.deleted, result.inserted) == (3, 1)
    assert table_rows(warehouse) == [(7, "g@x.org", 7.0, "2026-07-07")]


def test_a_run_key_loads_once_and_force_loads_again(warehouse, folder):
    file = write_file(folder, "a.csv", HEADER + "3,c@x.org,3,2026-03-03\n")
    spec = import_spec("overwrite")
    run(spec, [file], folder)
    again = run(spec, [file], folder)
    assert again.already_loaded and again.inserted == 1 and again.skipped_files == ["a.csv"]
    assert not run(spec, [file], folder, force=True).already_loaded


def test_append_skips_a_file_loaded_before_unless_forced(warehouse, folder):
    file = write_file(folder, "a.csv", HEADER + "3,c@x.org,3,2026-03-03\n")
    spec = import_spec("append", rejects={"max_rate": 1})
    run(spec, [file], folder, run_key="leads.r1")
    second = run(spec, [file], folder, run_key="leads.r2")
    assert (second.inserted, second.skipped_files) == (0, ["a.csv"])
    assert [row[0] for row in table_rows(warehouse)] == [1, 2, 3]
    with pytest.raises(TargetRefused, match=r"(?i)constraint|duplicate"):  # the key is the PK
        run(spec, [file], folder, run_key="leads.r3", force=True)
    assert [row[0] for row in table_rows(warehouse)] == [1, 2, 3]


def test_a_changed_file_of_the_same_name_is_loaded(warehouse, folder):
    spec = import_spec("append")
    run(spec, [write_file(folder, "a.csv", HEADER + "3,c@x.org,3,\n")], folder, run_key="r1")
    run(spec, [write_file(folder, "a.csv", HEADER + "4,d@x.org,4,\n")], folder, run_key="r2")
    assert [row[0] for row in table_rows(warehouse)] == [1, 2, 3, 4]


def test_rejected_rows_go_to_the_rejects_file_and_the_rest_loads(warehouse, folder):
    text = HEADER + "3,c@x.org,3,2026-03-03\n4,d@x.org,lots,2026-13-01\n,e@x.org,5,\n"
    spec = import_spec("merge", rejects={"max_rate": 0.9, "on_exceed": "fail"})
    result = run(spec, [write_file(folder, "leads.csv", text)], folder)
    assert (result.rows_read, result.inserted, result.rejected) == (3, 1, 2)
    with open(result.rejects_file, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [
        {"file": "leads.csv", "row": "2", "column": "score", "value": "lots",
         "reason": "not a DECIMAL(6,2)"},
        {"file": "leads.csv", "row": "2", "column": "signed_up", "value": "2026-13-01",
         "reason": "not a DATE"},
        {"file": "leads.csv", "row": "3", "column": "lead_id", "value": "",
         "reason": "the key is empty"},
    ]  # fmt: skip
    assert [row[0] for row in table_rows(warehouse)] == [1, 2, 3]


def test_over_the_reject_rate_nothing_is_loaded_or_it_warns(warehouse, folder, caplog):
    text = HEADER + "3,c@x.org,3,\n4,d@x.org,bad,\n"
    file = write_file(folder, "leads.csv", text)
    with pytest.raises(RejectsExceeded, match=r"1 of 2 rows rejected \(50.00%\).*nothing"):
        run(import_spec("merge", rejects={"max_rate": 0.1}), [file], folder)
    assert table_rows(warehouse) == BEFORE
    assert (folder / "rejects.csv").exists()
    spec = import_spec("merge", rejects={"max_rate": 0.1, "on_exceed": "warn"})
    assert run(spec, [file], folder).inserted == 1
    assert "on_exceed: warn" in caplog.text


def test_a_merge_key_repeated_in_the_files_loads_the_last_row(warehouse, folder):
    first = write_file(folder, "a.csv", HEADER + "5,old@x.org,1,\n")
    second = write_file(folder, "b.csv", HEADER + "5,new@x.org,2,\n")
    result = run(import_spec("merge", rejects={"max_rate": 1}), [first, second], folder)
    assert (result.inserted, result.rejected) == (1, 1)
    assert table_rows(warehouse)[-1] == (5, "new@x.org", 2.0, None)
    assert "duplicate key" in (folder / "rejects.csv").read_text()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lead_id,email,score\n3,c@x.org,3\n", r"leads.csv: no column 'signed_up'"),
        ("", r"leads.csv: the file is empty"),
        (
            "lead_id;email\n1;2\n",
            r"leads.csv: no column 'lead_id', .*'signed_up' \(the file has 'lead_id;email'\)",
        ),
    ],
)
def test_a_bad_file_is_a_terminal_error_naming_file_and_column(warehouse, folder, text, message):
    with pytest.raises(BadImportFile, match=message) as caught:
        run(import_spec("merge"), [write_file(folder, "leads.csv", text)], folder)
    assert kind_of(caught.value) == "terminal"
    assert table_rows(warehouse) == BEFORE


def test_one_bad_file_among_good_ones_loads_nothing(warehouse, folder):
    good = write_file(folder, "a.csv", HEADER + "3,c@x.org,3,\n")
    rows = "".join(f"{n},{n * 7919 % 100_003}@x.org,4,\n" for n in range(10, 20_000))
    truncated = write_file(folder, "b.csv.gz", HEADER + rows)
    truncated.path.write_bytes(truncated.path.read_bytes()[:20_000])
    with pytest.raises(BadImportFile, match=r"b.csv.gz: .*(?i:gzip)"):
        run(import_spec("append"), [good, truncated], folder)
    assert table_rows(warehouse) == BEFORE


def test_a_constraint_broken_by_the_last_row_leaves_the_table_unchanged(warehouse, folder):
    rows = "".join(f"{n},n{n}@x.org,1,\n" for n in range(10, 5000)) + "1,dup@x.org,1,\n"
    with pytest.raises(TargetRefused, match=r"connection ferry_warehouse.*unchanged"):
        run(import_spec("append"), [write_file(folder, "a.csv", HEADER + rows)], folder)
    assert table_rows(warehouse) == BEFORE


def test_failed_expectations_load_nothing(warehouse, folder):
    spec = import_spec("merge", expectations=[
        {"expect": "row_count_between", "min": 5},
        {"expect": "regex", "field": "email", "pattern": "@x\\.org$", "on_failure": "warn"},
    ])  # fmt: skip
    file = write_file(folder, "a.csv", HEADER + "3,c@y.org,3,\n")
    with pytest.raises(ImportExpectationsFailed, match=r"row_count_between: 1 rows"):
        run(spec, [file], folder)
    assert table_rows(warehouse) == BEFORE


def test_a_merge_without_its_key_in_the_columns_is_refused(warehouse, folder):
    spec = import_spec("merge", columns=["email"])
    with pytest.raises(ImportSetupError, match=r"merge matches rows on 'lead_id'"):
        run(spec, [write_file(folder, "a.csv", "email\nq@x.org\n")], folder)


def test_a_column_the_table_lacks_is_refused(warehouse, folder):
    spec = import_spec("append", columns=["lead_id", "phone"])
    with pytest.raises(ImportSetupError, match=r"'phone' is not a column of table lead"):
        run(spec, [write_file(folder, "a.csv", "lead_id,phone\n1,2\n")], folder)


def test_a_warehouse_locked_by_another_process_is_transient(warehouse, folder, monkeypatch):
    monkeypatch.setattr(duckdb_target, "LOCK_WAIT", 0.5)
    file = write_file(folder, "a.csv", HEADER + "3,c@x.org,3,\n")
    with held_by_another_process(warehouse), pytest.raises(TargetBusy) as caught:
        run(import_spec("merge"), [file], folder)
    assert kind_of(caught.value) == "transient"
    assert table_rows(warehouse) == BEFORE
    assert run(import_spec("merge"), [file], folder).inserted == 1  # the retry loads


def test_hostile_names_and_values_are_data_not_sql(warehouse, folder, monkeypatch):
    """The file's name, its header and its values never appear in the worker's SQL
    (DuckDB's own query log says what it ran)."""
    queries = []

    @contextlib.contextmanager
    def logged_worker():
        with open_duckdb() as con:
            con.execute("CALL enable_logging('QueryLog')").fetchall()
            yield con
            log = "SELECT message FROM duckdb_logs() WHERE type = 'QueryLog'"
            queries.extend(message for (message,) in con.execute(log).fetchall())

    monkeypatch.setattr(load_module, "open_duckdb", logged_worker)
    field = 'm"); DROP TABLE lead; --'
    value = "x'); DROP TABLE lead; --"
    text = f'lead_id,"{field.replace(chr(34), chr(34) * 2)}"\n9,"{value}"\n'
    spec = import_spec("merge", columns=["lead_id", {"field": field, "to": "email"}])
    name = 'it\'s "odd".csv'
    run(spec, [write_file(folder, name, text)], folder, table=table_spec())
    assert table_rows(warehouse)[-1] == (9, value, None, None)
    assert any("read_csv(?" in query for query in queries)
    assert not [q for q in queries if "DROP TABLE lead" in q or "odd" in q or str(folder) in q]


def test_start_rows_are_the_fixture(warehouse):
    assert table_rows(warehouse) == [(r[0], r[1], r[2], r[3]) for r in START_ROWS]


def test_jsonl_and_parquet_load_with_the_same_casts_and_rejects(warehouse, folder):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [{"lead_id": 3, "email": "c@x.org", "score": 3.25, "signed_up": "2026-03-03"},
               {"lead_id": 4, "email": "d@x.org", "score": "lots"}]  # fmt: skip
    lines = write_file(folder, "a.jsonl", "\n".join(map(json.dumps, records)))
    spec = import_spec("merge", format={"type": "jsonl"}, rejects={"max_rate": 0.5})
    result = run(spec, [lines], folder)
    assert (result.inserted, result.rejected) == (1, 1)
    assert table_rows(warehouse)[-1] == (3, "c@x.org", 3.25, "2026-03-03")
    parquet = folder / "b.parquet"
    pq.write_table(pa.table({"lead_id": [5], "email": ["e@x.org"], "score": [1.5],
                             "signed_up": ["2026-05-05"]}), parquet)  # fmt: skip
    spec = import_spec("append", format={"type": "parquet"})
    assert run(spec, [local_file(parquet)], folder, run_key="r2").inserted == 1
    assert table_rows(warehouse)[-1] == (5, "e@x.org", 1.5, "2026-05-05")


def test_an_overwrite_with_no_rows_to_load_is_refused_and_changes_nothing(warehouse, folder):
    """A header-only file, or every row rejected under on_exceed: warn, would empty the
    table: refused, terminal, the table as it was."""
    with pytest.raises(NothingToLoad, match=r"no rows to load \(0 rows read, 0 rejected\); "
                       r"an overwrite would empty table lead") as caught:  # fmt: skip
        run(import_spec("overwrite"), [write_file(folder, "a.csv", HEADER)], folder)
    assert kind_of(caught.value) == "terminal"
    spec = import_spec("overwrite", rejects={"max_rate": 0.0, "on_exceed": "warn"})
    bad = write_file(folder, "b.csv", HEADER + "x,a@x.org,1,2026-01-01\n")
    with pytest.raises(NothingToLoad, match=r"1 rows read, 1 rejected"):
        run(spec, [bad], folder)
    assert table_rows(warehouse) == BEFORE


@pytest.mark.parametrize("mode", ["merge", "append"])
def test_a_merge_or_append_with_no_rows_loads_nothing_and_is_recorded(
    warehouse, folder, mode, caplog
):
    result = run(import_spec(mode), [write_file(folder, "a.csv", HEADER)], folder)
    assert (result.rows_read, result.inserted, result.updated) == (0, 0, 0)
    assert f"no rows to load (0 rows read, 0 rejected); {mode} loads nothing" in caplog.text
    assert run(import_spec(mode), [], folder).already_loaded  # the run was recorded
    assert table_rows(warehouse) == BEFORE


def test_values_are_rejected_not_rounded_or_cut(warehouse, folder):
    text = HEADER + "3,c@x.org,1.239,2026-01-03\n4,d@x.org,1,2026-01-04 23:59:00\n"
    text += "5.6,e@x.org,1,2026-01-05\n6,f@x.org,1.20,2026-01-06 00:00:00\n"
    result = run(import_spec("append", rejects={"max_rate": 1.0}),
                 [write_file(folder, "a.csv", text)], folder)  # fmt: skip
    assert (result.inserted, result.rejected) == (1, 3)
    assert table_rows(warehouse) == BEFORE + [(6, "f@x.org", 1.2, "2026-01-06")]
    with open(result.rejects_file, newline="") as handle:
        reasons = {row["column"]: row["reason"] for row in csv.DictReader(handle)}
    assert reasons["score"].startswith("not exactly a DECIMAL(6,2)")
    assert reasons["signed_up"].startswith("has a time of day")
    assert reasons["lead_id"].startswith("not exactly a BIGINT")


def test_json_values_are_cast_by_the_same_rules_as_csv(warehouse, folder):
    text = (
        '{"lead_id": 7, "email": 12, "score": 1.5}\n'
        '{"lead_id": 8, "email": "h@x.org", "signed_up": "2026-01-03T00:00:00"}\n'
        '{"lead_id": 9, "email": "i@x.org", "score": 1.239}\n'
    )
    spec = import_spec("append", format={"type": "jsonl"}, rejects={"max_rate": 1.0})
    result = run(spec, [write_file(folder, "a.jsonl", text)], folder)
    assert (result.inserted, result.rejected) == (2, 1)
    assert table_rows(warehouse)[2:] == [(7, "12", 1.5, None), (8, "h@x.org", None, "2026-01-03")]


def test_a_file_named_with_glob_characters_loads_only_itself(warehouse, folder):
    write_file(folder, "leads_1.csv", HEADER + "3,c@x.org,1,2026-01-03\n")
    star = write_file(folder, "leads_*.csv", HEADER + "4,d@x.org,1,2026-01-04\n")
    assert run(import_spec("append"), [star], folder).inserted == 1
    assert [row[0] for row in table_rows(warehouse)] == [1, 2, 4]
