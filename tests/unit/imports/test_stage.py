"""stage: rows cast to the table's types, every problem a line of the rejects file."""

from __future__ import annotations

import csv

import duckdb
import pytest
from tests.unit.imports.helpers import write_file

from ferry.imports.errors import BadImportFile
from ferry.imports.stage import STAGED, Column, stage_files, write_rejects
from ferry.spec.imports import ImportFormat

COLUMNS = [Column("id", "id", "INTEGER"), Column("at", "at", "TIMESTAMPTZ"),
           Column("ok", "ok", "BOOLEAN")]  # fmt: skip


def _stage(folder, files, fmt=None, key="id", unique_key=True):
    con = duckdb.connect()
    staged = stage_files(con, files, fmt or ImportFormat(), COLUMNS, key, unique_key=unique_key,
                         work=folder)  # fmt: skip
    return con, staged


def test_values_are_cast_to_the_declared_types(tmp_path):
    file = write_file(tmp_path, "a.csv", "ok,id,at\ntrue,1,2026-01-02 03:04:05+02\nf,2,\n")
    con, staged = _stage(tmp_path, [file])
    rows = con.execute(
        f'SELECT __ferry_file, __ferry_row, id, CAST("at" AS VARCHAR), ok FROM {STAGED}'
    )
    assert rows.fetchall() == [("a.csv", 1, 1, "2026-01-02 01:04:05+00", True),
                               ("a.csv", 2, 2, None, False)]  # fmt: skip
    assert (staged.rows_read, staged.rejected) == (2, 0)


def test_without_a_header_columns_are_taken_in_order(tmp_path):
    file = write_file(tmp_path, "a.csv", "7,2026-01-01,yes,extra\n")
    con, _ = _stage(tmp_path, [file], ImportFormat(header=False))
    assert con.execute(f"SELECT id, ok FROM {STAGED}").fetchall() == [(7, True)]
    short = write_file(tmp_path, "b.csv", "7,2026-01-01\n")
    with pytest.raises(BadImportFile, match=r"b.csv: has 2 columns, the import maps 3"):
        _stage(tmp_path, [short], ImportFormat(header=False))


def test_each_problem_is_one_line_and_a_row_is_rejected_once(tmp_path):
    text = "id,at,ok\n1,x,maybe\n99999999999,2026-01-01,t\n3,2026-01-01,t\n"
    con, staged = _stage(tmp_path, [write_file(tmp_path, "a.csv", text)])
    assert (staged.rows_read, staged.rejected) == (3, 2)
    with open(write_rejects(con, tmp_path), newline="") as handle:
        lines = [tuple(row.values()) for row in csv.DictReader(handle)]
    assert lines == [
        ("a.csv", "1", "at", "x", "not a TIMESTAMPTZ"),
        ("a.csv", "1", "ok", "maybe", "not a BOOLEAN"),
        ("a.csv", "2", "id", "99999999999", "not a INTEGER"),
    ]


def test_repeated_keys_keep_the_last_row_only_when_asked(tmp_path):
    files = [write_file(tmp_path, "a.csv", "id,at,ok\n1,,t\n1,,f\n"),
             write_file(tmp_path, "b.csv", "id,at,ok\n1,,t\n2,,t\n")]  # fmt: skip
    con, staged = _stage(tmp_path, files)
    kept = f"SELECT __ferry_file, __ferry_row FROM {STAGED} ORDER BY __ferry_seq"
    assert con.execute(kept).fetchall() == [("b.csv", 1), ("b.csv", 2)]
    assert staged.rejected == 2
    con, staged = _stage(tmp_path, files, unique_key=False)
    assert staged.rejected == 0


def test_no_rejects_no_file(tmp_path):
    (tmp_path / "rejects.csv").write_text("an earlier try's\n")
    con, _ = _stage(tmp_path, [write_file(tmp_path, "a.csv", "id,at,ok\n1,,t\n")])
    assert write_rejects(con, tmp_path) is None and not (tmp_path / "rejects.csv").exists()


def test_a_hostile_header_is_matched_in_python_only(tmp_path):
    hostile = 'id" FROM x; DROP TABLE y; --'
    columns = [Column(hostile, "id", "INTEGER")]
    file = write_file(tmp_path, "a.csv", '"' + hostile.replace('"', '""') + '"\n5\n')
    con = duckdb.connect()
    con.execute("CREATE TABLE y (v INTEGER)").fetchall()
    stage_files(con, [file], ImportFormat(), columns, None, unique_key=False, work=tmp_path)
    assert con.execute(f"SELECT id FROM {STAGED}").fetchall() == [(5,)]
    assert con.execute("SELECT count(*) FROM y").fetchall() == [(0,)]


def test_rejects_cells_a_spreadsheet_would_run_are_guarded_as_in_exports(tmp_path):
    """= + - @ (and tab, CR) start a formula in Excel, LibreOffice and Google Sheets."""
    text = 'id,at,ok\n=1+2,"+cmd|\' /C calc\'!A0",@SUM(A1)\n"\tx",-2+3,maybe\n'
    file = write_file(tmp_path, "=HYPERLINK(evil).csv", text)
    con, staged = _stage(tmp_path, [file])
    assert staged.rejected == 2
    with open(write_rejects(con, tmp_path), newline="") as handle:
        lines = [(row["file"], row["column"], row["value"]) for row in csv.DictReader(handle)]
    assert lines == [
        ("'=HYPERLINK(evil).csv", "at", "'+cmd|' /C calc'!A0"),
        ("'=HYPERLINK(evil).csv", "id", "'=1+2"),
        ("'=HYPERLINK(evil).csv", "ok", "'@SUM(A1)"),
        ("'=HYPERLINK(evil).csv", "at", "'-2+3"),
        ("'=HYPERLINK(evil).csv", "id", "'\tx"),
        ("'=HYPERLINK(evil).csv", "ok", "maybe"),
    ]


def test_table_columns_named_like_ferrys_bookkeeping_are_plain_columns(tmp_path):
    """A table may have columns n, v, _seq, _file, _row (only __ferry... is refused)."""
    names = ["id", "n", "v", "_seq", "_file", "_row"]
    columns = [Column(name, name, "INTEGER") for name in names]
    text = "id,n,v,_seq,_file,_row\n5,0,0,0,0,0\n5,9,9,9,9,9\n6,7,7,7,7,7\n"
    con = duckdb.connect()
    staged = stage_files(con, [write_file(tmp_path, "a.csv", text)], ImportFormat(), columns,
                         "id", unique_key=True, work=tmp_path)  # fmt: skip
    rows = con.execute(f"SELECT {', '.join(names)} FROM {STAGED} ORDER BY id").fetchall()
    assert rows == [(5, 9, 9, 9, 9, 9), (6, 7, 7, 7, 7, 7)]
    assert staged.rejected == 1
    with open(write_rejects(con, tmp_path), newline="") as handle:
        assert [tuple(row.values()) for row in csv.DictReader(handle)] == [
            ("a.csv", "1", "id", "5", "duplicate key: a later row has the same key and is loaded")
        ]


def test_a_mapped_column_the_header_repeats_is_a_clear_error(tmp_path):
    """DuckDB would rename the second 'id' to id_1: neither may be guessed."""
    file = write_file(tmp_path, "a.csv", "id,at,ok,id,id_1\n1,,t,2,3\n")
    with pytest.raises(BadImportFile, match=r"a.csv: the header has 'id' more than once"):
        _stage(tmp_path, [file])


def test_a_field_named_like_duckdbs_renaming_is_the_written_column(tmp_path):
    """DuckDB names the second 'x' x_1; the field x_1 is the file's own x_1 column."""
    file = write_file(tmp_path, "a.csv", "x,x,x_1\n8,9,1\n")
    con = duckdb.connect()
    stage_files(con, [file], ImportFormat(), [Column("x_1", "id", "INTEGER")], "id",
                unique_key=False, work=tmp_path)  # fmt: skip
    assert con.execute(f"SELECT id FROM {STAGED}").fetchall() == [(1,)]
