"""Imports into PostgreSQL: modes row by row, all or nothing, readers see before or after."""

from __future__ import annotations

import threading
import time

import adbc_driver_postgresql.dbapi as adbc
import pytest
from tests.unit.imports.helpers import HEADER, import_spec, run, table_spec, write_file

from ferry.exceptions import kind_of
from ferry.imports.errors import BadImportFile, ImportSetupError, TargetBusy, TargetRefused

BEFORE = [(1, "a@x.org", 1.5, "2026-01-01"), (2, "b@x.org", 2.5, "2026-01-02")]
SHAPE = "SELECT count(*), sum(lead_id), sum(score)::float8 FROM imp.lead"


def _table():
    return table_spec(connection="pg_import", name="imp.lead")


def _rows(server) -> list[tuple]:
    out = server.execute(
        "SELECT lead_id, email, score::float8, signed_up FROM imp.lead ORDER BY lead_id"
    )
    rows = [line.split("|") for line in out.splitlines()]
    return [(int(i), e or None, float(s) if s else None, d or None) for i, e, s, d in rows]


def _load(folder, mode, text, name="leads.csv", **fields):
    file = write_file(folder, name, text)
    return run(import_spec(mode, **fields), [file], folder, table=_table(),
               run_key=f"leads.{time.monotonic_ns()}")  # fmt: skip


def test_merge_append_overwrite_row_by_row(pg_lead, tmp_path):
    merged = _load(tmp_path, "merge", HEADER + "2,new@x.org,9,2026-02-02\n3,c@x.org,3,\n")
    assert (merged.inserted, merged.updated) == (1, 1)
    assert _rows(pg_lead) == [BEFORE[0], (2, "new@x.org", 9.0, "2026-02-02"),
                              (3, "c@x.org", 3.0, None)]  # fmt: skip
    assert _load(tmp_path, "append", HEADER + "4,d@x.org,4,2026-04-04\n").inserted == 1
    assert [row[0] for row in _rows(pg_lead)] == [1, 2, 3, 4]
    replaced = _load(tmp_path, "overwrite", HEADER + "9,z@x.org,,\n")
    assert (replaced.deleted, replaced.inserted) == (4, 1)
    assert _rows(pg_lead) == [(9, "z@x.org", None, None)]


def test_a_bad_file_changes_nothing(pg_lead, tmp_path):
    with pytest.raises(BadImportFile, match=r"leads.csv: no column 'signed_up'"):
        _load(tmp_path, "merge", "lead_id,email,score\n5,e@x.org,1\n")
    assert _rows(pg_lead) == BEFORE


def test_a_failure_in_the_last_row_leaves_the_table_unchanged(pg_lead, tmp_path):
    pg_lead.execute(
        "CREATE FUNCTION imp.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.lead_id = 99999 THEN RAISE EXCEPTION 'row 99999 refused'; END IF; "
        "RETURN NEW; END $$; CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON imp.lead "
        "FOR EACH ROW EXECUTE FUNCTION imp.refuse()"
    )
    rows = "".join(f"{n},n{n},1,\n" for n in range(3, 5000)) + "99999,last,1,\n"
    for mode in ("merge", "append", "overwrite"):
        first = "" if mode == "append" else "1,changed,1,\n"  # append: no key already there
        with pytest.raises(TargetRefused, match=r"(?s)row 99999 refused.*unchanged") as caught:
            _load(tmp_path, mode, HEADER + first + rows)
        assert kind_of(caught.value) == "terminal"
        assert _rows(pg_lead) == BEFORE


def test_a_killed_connection_leaves_the_table_unchanged_and_is_retried(pg_lead, tmp_path):
    pg_lead.execute(
        "CREATE FUNCTION imp.stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.lead_id = 99999 THEN PERFORM pg_sleep(30); END IF; RETURN NEW; END $$; "
        "CREATE TRIGGER stall BEFORE INSERT ON imp.lead FOR EACH ROW EXECUTE FUNCTION imp.stall()"
    )
    killer = threading.Thread(target=_kill_when_stalled, args=(pg_lead,))
    killer.start()
    rows = "".join(f"{n},n{n},1,\n" for n in range(3, 2000)) + "99999,last,1,\n"
    try:
        with pytest.raises(TargetBusy) as caught:
            _load(tmp_path, "append", HEADER + rows)
    finally:
        killer.join()
    assert kind_of(caught.value) == "transient"
    assert _rows(pg_lead) == BEFORE


def _kill_when_stalled(server) -> None:
    for _ in range(200):
        killed = server.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE wait_event = 'PgSleep' AND pid <> pg_backend_pid()"
        )
        if killed.strip():
            return
        time.sleep(0.05)


def test_a_reader_during_the_load_sees_before_or_after(pg_lead, tmp_path):
    pg_lead.execute("INSERT INTO imp.lead SELECT i, 'm' || i, 1 FROM generate_series(3, 200000) i")
    seen, done = set(), threading.Event()

    def read():
        with adbc.connect(pg_lead.uri, autocommit=True) as conn, conn.cursor() as cursor:
            while not done.is_set():
                cursor.execute(SHAPE)
                seen.add(cursor.fetchone())

    with adbc.connect(pg_lead.uri, autocommit=True) as conn, conn.cursor() as cursor:
        cursor.execute(SHAPE)
        before = cursor.fetchone()
    reader = threading.Thread(target=read)
    reader.start()
    rows = "".join(f"{n},n{n},2,\n" for n in range(100_000, 300_000))
    try:
        result = _load(tmp_path, "merge", HEADER + rows)
    finally:
        done.set()
        reader.join()
    with adbc.connect(pg_lead.uri, autocommit=True) as conn, conn.cursor() as cursor:
        cursor.execute(SHAPE)
        after = cursor.fetchone()
    assert (result.inserted, result.updated) == (99_999, 100_001)
    assert before in seen and seen <= {before, after}


def test_hostile_names_and_values_never_reach_the_server_as_sql(pg_lead, tmp_path):
    field = 'm"); DROP TABLE imp.lead; --'
    value = "x'); DROP TABLE imp.lead; --"
    text = f'lead_id,"{field.replace(chr(34), chr(34) * 2)}"\n9,"{value}"\n'
    _load(tmp_path, "merge", text, columns=["lead_id", {"field": field, "to": "email"}])
    assert _rows(pg_lead)[-1] == (9, value, None, None)
    assert "DROP TABLE" not in pg_lead.log()


def test_merge_needs_a_unique_key_on_the_table(pg_lead, tmp_path):
    pg_lead.execute("ALTER TABLE imp.lead DROP CONSTRAINT lead_pkey")
    with pytest.raises(ImportSetupError, match="no primary key or unique constraint on lead_id"):
        _load(tmp_path, "merge", HEADER + "3,c@x.org,3,\n")
    assert _rows(pg_lead) == BEFORE


def test_a_server_that_is_down_is_transient(pg_lead, tmp_path, monkeypatch):
    from tests.servers import airflow_connection, free_port

    monkeypatch.setenv(*airflow_connection(
        "pg_import", conn_type="postgres", host="127.0.0.1", port=free_port(),
        login="postgres", schema="warehouse", extra={"connect_timeout": "2"}))  # fmt: skip
    with pytest.raises(TargetBusy, match="connection pg_import") as caught:
        _load(tmp_path, "merge", HEADER + "3,c@x.org,3,\n")
    assert kind_of(caught.value) == "transient"


@pytest.mark.parametrize("name", ["ferry_incoming", "__ferry_incoming"])
@pytest.mark.parametrize("mode", ["merge", "append", "overwrite"])
def test_a_table_named_like_ferrys_temporary_one_is_loaded(pg_lead, tmp_path, name, mode):
    # unqualified, as a table of the default schema is named in tables.yaml
    pg_lead.execute(f"DROP TABLE IF EXISTS public.{name}; ALTER TABLE imp.lead RENAME TO {name}; "
                    f"ALTER TABLE imp.{name} SET SCHEMA public")  # fmt: skip
    first = "4,d@x.org,4,\n" if mode == "append" else "2,new@x.org,9,2026-02-02\n"
    file = write_file(tmp_path, "leads.csv", HEADER + first + "3,c@x.org,3,\n")
    try:
        result = run(import_spec(mode), [file], tmp_path,
                     table=table_spec(connection="pg_import", name=name))  # fmt: skip
        out = pg_lead.execute(f"SELECT lead_id, email FROM public.{name} ORDER BY lead_id")
    finally:
        pg_lead.execute(f"DROP TABLE IF EXISTS public.{name}")
    expected = {
        "merge": "1|a@x.org 2|new@x.org 3|c@x.org",
        "append": "1|a@x.org 2|b@x.org 3|c@x.org 4|d@x.org",
        "overwrite": "2|new@x.org 3|c@x.org",
    }[mode]
    assert (" ".join(out.split()), result.inserted) == (expected, 1 if mode == "merge" else 2)
