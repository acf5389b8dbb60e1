"""read: every format and compression read into a table as the file holds it; bad files
are clear errors naming the file."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.unit.imports.helpers import local_file

from ferry.imports.errors import BadImportFile, ImportSetupError
from ferry.imports.read import read_file
from ferry.spec.imports import ImportFormat

NUMBERS = "".join(f"{n},{n * 7919 % 100_003}\n" for n in range(20_000))
TRUNCATED_GZIP = gzip.compress(("id,name\n" + NUMBERS).encode())[:20_000]
ROWS = [{"id": 1, "name": "Zoë"}, {"id": 2, "name": "b,c"}]


def _read(path, **fmt):
    with duckdb.connect() as con:
        raw = read_file(con, local_file(path), ImportFormat(**fmt), "raw", path.parent)
        return raw.columns, con.execute("SELECT * FROM raw ORDER BY rowid").fetchall()


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "fmt"),
    [
        ("a.csv", b'id,name\n1,Zo\xc3\xab\n2,"b,c"\n', {}),
        ("a.tsv", b"id\tname\n1\tZo\xc3\xab\n2\tb,c\n", {"type": "tsv"}),
        ("a.txt", b"id|name\n1|Zo\xc3\xab\n2|b,c\n", {"delimiter": "|"}),
        ("a.csv", b"id;name\n1;Zo\xebb\n2;b,c\n".replace(b"\xebb", b"\xeb"),
         {"delimiter": ";", "encoding": "latin-1"}),
        ("a.csv", "id,name\n1,Zoë\n2,\"b,c\"\n".encode("utf-16"), {"encoding": "utf-16"}),
        ("a.csv.gz", gzip.compress(b'id,name\n1,Zo\xc3\xab\n2,"b,c"\n'), {}),
        ("a.jsonl", "\n".join(json.dumps(r) for r in ROWS).encode(), {"type": "jsonl"}),
        ("a.json", json.dumps(ROWS).encode(), {"type": "json"}),
        ("a.jsonl.gz", gzip.compress("\n".join(map(json.dumps, ROWS)).encode()),
         {"type": "jsonl"}),
    ],
    ids=["csv", "tsv", "pipe", "latin-1", "utf-16", "gzip", "jsonl", "json", "jsonl.gz"],
)  # fmt: skip
def test_each_format_is_read_by_its_columns(tmp_path, name, data, fmt):
    path = tmp_path / name
    path.write_bytes(data)
    columns, rows = _read(path, **fmt)
    assert columns == ["id", "name"]
    assert [(str(i), n) for i, n in rows] == [("1", "Zoë"), ("2", "b,c")]


def test_parquet_and_zip(tmp_path):
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(ROWS), buffer)
    (tmp_path / "a.parquet").write_bytes(buffer.getvalue())
    assert _read(tmp_path / "a.parquet", type="parquet")[1] == [(1, "Zoë"), (2, "b,c")]
    _zip(tmp_path / "a.zip", {"inner/../../evil.csv": b"id,name\n1,x\n"})
    assert _read(tmp_path / "a.zip")[1] == [("1", "x")]
    assert not (tmp_path.parent / "evil.csv").exists()  # the member's name is never a path


def test_a_zip_of_two_files_is_refused(tmp_path):
    _zip(tmp_path / "a.zip", {"a.csv": b"id\n1\n", "b.csv": b"id\n2\n"})
    with pytest.raises(BadImportFile, match=r"a.zip: a zip must hold exactly one file"):
        _read(tmp_path / "a.zip")


@pytest.mark.parametrize(
    ("name", "data", "fmt", "message"),
    [
        ("a.csv.gz", TRUNCATED_GZIP, {},
         r"a.csv.gz: cannot be read as csv: .*GZIP.*truncated or not gzip"),
        ("a.csv", b"", {}, "a.csv: the file is empty"),
        ("a.csv.gz", gzip.compress(b""), {}, "a.csv.gz: the file holds no data"),
        ("a.csv", b"id,name\n1,Zo\xeb\n", {},
         r"a.csv: cannot be read as csv: .*not utf-8.*set it \(utf-8, latin-1 or utf-16\)"),
        ("a.jsonl", b'{"id": 1}\n{"id": \n', {"type": "jsonl"},
         r"a.jsonl: cannot be read as jsonl: .*not valid JSON"),
        ("a.parquet", b"PAR1 not really", {"type": "parquet"},
         "a.parquet: cannot be read as parquet"),
        ("a.zip", b"PK not a zip", {}, "a.zip: not a readable zip"),
        ("a.csv", b"id,name\n1,a\n2\n3,c,d\n", {}, "a.csv: .*number of fields"),
    ],
    ids=["truncated-gzip", "empty", "empty-gzip", "encoding", "json", "parquet", "zip",
         "short-row"],
)  # fmt: skip
def test_a_bad_file_is_a_clear_error(tmp_path, name, data, fmt, message):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(BadImportFile, match=f"(?s){message}") as caught:
        _read(tmp_path / name, **fmt)
    assert str(tmp_path) not in str(caught.value)  # the file's name, not the worker's path
    assert "LINE 1" not in str(caught.value)


def test_an_encoding_for_json_is_refused(tmp_path):
    (tmp_path / "a.json").write_text("[]")
    with pytest.raises(ImportSetupError, match=r"encoding latin-1 applies to csv and tsv"):
        _read(tmp_path / "a.json", type="json", encoding="latin-1")


def test_a_hostile_file_name_is_a_bound_path(tmp_path):
    path = tmp_path / "x'); COPY (SELECT 1) TO 'pwned.csv'; --.csv"
    path.write_text("id\n1\n")
    assert _read(path)[1] == [("1",)]
    assert not (tmp_path / "pwned.csv").exists() and not Path("pwned.csv").exists()


def test_every_line_is_read_as_written(tmp_path):
    """Not sniffed away: a # line, quoted delimiters, the first lines of a ragged file."""
    (tmp_path / "a.csv").write_text('id,name\n#1,a\n"2","b,c"\n3,\n')
    assert _read(tmp_path / "a.csv")[1] == [("#1", "a"), ("2", "b,c"), ("3", None)]


def test_json_values_are_read_as_text_without_type_detection(tmp_path):
    """No JSON quotes kept, no timestamp rewritten, no integer through a double, a late key
    still a column, a nested value its JSON text."""
    records = [
        '{"id": 1, "s": 1, "t": "2024-03-10T02:30:00+02:00", "n": 9007199254740993}',
        '{"id": 2, "s": "x", "t": "01234", "n": 1.5, "b": false}',
        '{"id": 3, "s": {"a": 1}, "t": null, "q": "He said \\"hi\\""}',
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(records) + "\n")
    columns, rows = _read(tmp_path / "a.jsonl", type="jsonl")
    assert columns == ["id", "s", "t", "n", "b", "q"]
    assert rows == [
        ("1", "1", "2024-03-10T02:30:00+02:00", "9007199254740993", None, None),
        ("2", "x", "01234", "1.5", "false", None),
        ("3", '{"a":1}', None, None, None, 'He said "hi"'),
    ]


def test_a_json_array_of_objects_is_read_as_text(tmp_path):
    (tmp_path / "a.json").write_text('[{"id": 1, "z": "007"}, {"id": "2", "z": 7}]')
    assert _read(tmp_path / "a.json", type="json") == (["id", "z"], [("1", "007"), ("2", "7")])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"id": 1}\n[1, 2]\n', "1 records are not JSON objects"),
        ('{"Email": 1}\n{"email": 2}\n', "keys 'Email' and 'email', which differ only in case"),
    ],
)
def test_json_records_that_cannot_be_rows_are_a_clear_error(tmp_path, text, message):
    (tmp_path / "a.jsonl").write_text(text)
    with pytest.raises(BadImportFile, match=f"a.jsonl: cannot be read as jsonl: .*{message}"):
        _read(tmp_path / "a.jsonl", type="jsonl")


@pytest.mark.parametrize("name", ["leads_*.csv", "x[1].csv", "lead?.csv"])
def test_a_name_with_glob_characters_reads_that_file_only(tmp_path, name):
    """DuckDB would expand the name (leads_*.csv is also leads_1.csv; x[1].csv is x1.csv)."""
    for other in ("leads_1.csv", "x1.csv", "leadA.csv"):
        (tmp_path / other).write_text("id\nother\n")
    (tmp_path / name).write_text("id\nmine\n")
    assert _read(tmp_path / name) == (["id"], [("mine",)])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["leads_1.csv", "x1.csv", "leadA.csv", name]
    )  # the link Ferry read through is gone
