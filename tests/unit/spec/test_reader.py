"""Hostile definition files: each is one clear error with file and line, and nothing hangs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ferry.spec.loader import broken_key, load_project
from ferry.spec.reader import MAX_BYTES
from include_copy import copy_include

GOOD_EXPORT = (
    "id: {id}\nname: Good\nsource: {{table: lead}}\nfields: [lead_id, state]\n"
    "destinations: [{{type: download}}]\n"
)
BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
)


@pytest.fixture
def include(tmp_path: Path) -> Path:
    return copy_include(tmp_path)


def only_error(include: Path, relative: str, content: str | bytes) -> str:
    """Write one file, load, and return its single error; the shipped exports still load."""
    path = include / relative
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    project = load_project(include)
    [error] = project.errors
    if not relative.endswith(("tables.yaml", "targets.yaml")):
        assert "daily_lead_backup" in project.exports
    return str(error)


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        ("id: x\nname: café\n".encode("latin-1"), 2, "byte 0xe9 is not UTF-8"),
        ("id: x\nname: x\n".encode("utf-16"), 1, "is UTF-16 text"),
        ("id: x\nname: x\n".encode("utf-16-le"), 1, "has a NUL byte"),
        (b"id: x\nname: x\n\nowner: a\x00b\n", 4, "has a NUL byte"),
        (b"id: x\nname: \x07\n", 2, "has control character U+0007"),
    ],
)
def test_text_that_is_not_utf8_names_the_line_and_says_save_as_utf8(
    include, content, line, problem
):
    error = only_error(include, "exports/x.yaml", content)
    assert error.startswith(f"include/exports/x.yaml:{line} -> {problem}")
    assert error.endswith("save it as UTF-8")


def test_a_utf8_byte_order_mark_is_fine(include):
    (include / "exports" / "bom.yaml").write_bytes(
        b"\xef\xbb\xbf" + GOOD_EXPORT.format(id="bom").encode()
    )
    project = load_project(include)
    assert project.errors == [] and "bom" in project.exports


def test_a_file_over_the_size_limit_is_refused_before_parsing(include):
    text = GOOD_EXPORT.format(id="big") + "description: " + "x" * MAX_BYTES + "\n"
    error = only_error(include, "exports/big.yaml", text)
    assert (
        error == "include/exports/big.yaml -> is larger than 256 KiB; split it into smaller files"
    )


def test_a_file_over_256_kib_is_refused(include):
    text = GOOD_EXPORT.format(id="big") + "description: " + "x" * 300 * 1024 + "\n"
    error = only_error(include, "exports/big.yaml", text)
    assert (
        error == "include/exports/big.yaml -> is larger than 256 KiB; split it into smaller files"
    )


@pytest.mark.parametrize("item", ["- a\n", "- [a, b]\n", "- {a: b}\n"])
def test_a_file_of_too_many_values_is_refused_at_the_line_that_passes_the_limit(include, item):
    """25,000 short values fit in 256 KiB; building them all cost seconds at every DAG parse."""
    head = GOOD_EXPORT.format(id="many") + "x-list:\n"
    text = head + item * 25_000
    started = time.monotonic()
    error = only_error(include, "exports/many.yaml", text)
    assert time.monotonic() - started < 3
    assert error.startswith("include/exports/many.yaml:")
    assert error.endswith("-> has more than 20,000 values; split it into smaller files")
    line = int(error.split(":")[1].split(" ")[0])
    per_item = 1 if item == "- a\n" else 3
    assert line == pytest.approx(head.count("\n") + 20_000 // per_item, abs=20)


@pytest.mark.parametrize("content", ["", "\n\n", "# nothing here yet\n# really\n"])
def test_empty_and_comment_only_files_get_line_one(include, content):
    error = only_error(include, "exports/empty.yaml", content)
    assert error.startswith("include/exports/empty.yaml:1 -> is empty (or only comments)")


@pytest.mark.parametrize("field", ["kind", "pii"])
def test_an_alias_bomb_stops_at_the_line_that_uses_the_alias(include, field):
    text = f"{GOOD_EXPORT.format(id='bomb')}x-small: &small [a, b]\n{BOMB}{field}: *i\n"
    started = time.monotonic()
    error = only_error(include, "exports/bomb.yaml", text)
    assert time.monotonic() - started < 5
    # a..d expand to 9+81+729+6561 values; e's line is where the count passes 20,000
    line = GOOD_EXPORT.count("\n") + 1 + 5
    assert error.startswith(
        f"include/exports/bomb.yaml:{line} -> aliases expand it to more than 20,000"
    )
    assert len(error) < 300


def test_nesting_deeper_than_the_limit_is_refused(include):
    text = GOOD_EXPORT.format(id="deep") + "description: " + "[" * 70 + "]" * 70 + "\n"
    error = only_error(include, "exports/deep.yaml", text)
    assert error.startswith("include/exports/deep.yaml:6 -> nests deeper than 64 levels")


def test_nesting_through_aliases_counts_too(include):
    text = "x: &deep " + "[" * 40 + "]" * 40 + "\n" + GOOD_EXPORT.format(id="deep2")
    text += "description: " + "[" * 30 + "*deep" + "]" * 30 + "\n"
    error = only_error(include, "exports/deep2.yaml", text)
    assert error.startswith("include/exports/deep2.yaml:7 -> nests deeper than 64 levels")


@pytest.mark.parametrize(
    ("relative", "content", "where"),
    [
        (
            "exports/dup.yaml",
            GOOD_EXPORT.format(id="dup") + "pii: {email: hash, email: keep}\n",
            "dup.yaml:6 -> pii.email -> duplicate key 'email' (first on line 6)",
        ),
        (
            "exports/dup.yaml",
            GOOD_EXPORT.format(id="dup") + "name: Other\n",
            "dup.yaml:6 -> name -> duplicate key 'name' (first on line 2)",
        ),
        (
            "segments/dup.yaml",
            "id: dup\nname: D\ntype: contact\nrules: {field: email, op: eq, value: a, op: ne}\n",
            "dup.yaml:4 -> rules.op -> duplicate key 'op' (first on line 4)",
        ),
        (
            "groups/dup.yaml",
            "id: dup\nname: D\nmembers:\n  - export: daily_lead_backup\n"
            "    export: customer_profiles_csv\n",
            "dup.yaml:5 -> members[0].export -> duplicate key 'export' (first on line 4)",
        ),
    ],
)
def test_a_duplicate_key_is_an_error_at_the_second_key(include, relative, content, where):
    error = only_error(include, relative, content)
    assert where in error and "keep one" in error


@pytest.mark.parametrize("relative", ["warehouse/tables.yaml", "targets.yaml"])
def test_a_duplicate_key_in_the_catalogues_is_an_error_too(include, relative):
    path = include / relative
    lines = path.read_text().splitlines(keepends=True)
    second = next(i for i, line in enumerate(lines) if line.startswith("  ") and ":" in line)
    lines.append(lines[second])  # the first entry's key again, at the end
    path.write_text("".join(lines))
    [error] = load_project(include).broken[broken_key(path)]
    key = lines[second].split(":")[0].strip()
    assert f"{relative}:{len(lines)} -> " in str(error)
    assert f"duplicate key '{key}' (first on line {second + 1})" in str(error)


def test_merge_keys_may_be_overridden(include):
    text = (
        "x-base: &base {email: hash, phone: mask}\n"
        + GOOD_EXPORT.format(id="merged")
        + "pii: {<<: *base, email: keep}\n"
    )
    (include / "exports" / "merged.yaml").write_text(text.replace("x-base", "description"))
    project = load_project(include)
    assert [str(e) for e in project.errors] == [
        "include/exports/merged.yaml:1 -> description -> input should be a valid string"
    ]


def test_an_impossible_date_is_a_field_error_not_a_crash(include):
    text = GOOD_EXPORT.format(id="feb30") + "expires: 2026-02-30\n"
    error = only_error(include, "exports/feb30.yaml", text)
    assert error.startswith(
        "include/exports/feb30.yaml:6 -> expires -> input should be a valid date"
    )


@pytest.mark.parametrize(
    "value", ["!!int twelve", "!!float x", "!!bool maybe", "!!binary '%%'", "1" * 5000]
)
def test_a_value_yaml_cannot_build_names_its_line(include, value):
    text = GOOD_EXPORT.format(id="tagged") + f"retries: {value}\n"
    error = only_error(include, "exports/tagged.yaml", text)
    assert error.startswith("include/exports/tagged.yaml:6 -> ")
    assert len(error) < 400


def test_messages_never_carry_a_huge_value(include):
    huge = "y" * 80_000  # three fit in MAX_BYTES
    text = GOOD_EXPORT.format(id="huge")
    text += f"kind: {huge}\n? {huge}\n: 1\nformat: {{type: {huge}}}\n"
    started = time.monotonic()
    (include / "exports" / "huge.yaml").write_text(text)
    errors = [str(error) for error in load_project(include).errors]
    assert time.monotonic() - started < 5
    assert len(errors) == 3 and all(len(error) < 400 for error in errors), errors
    assert "kind -> 'yyyyyyy" in errors[0] and "... is not allowed" in errors[0]


@pytest.mark.parametrize("name", ["shout.YAML", "short.yml", "mixed.Yml"])
def test_yaml_files_load_whatever_the_extension_case(include, name):
    stem = name.split(".")[0]
    (include / "exports" / name).write_text(GOOD_EXPORT.format(id=stem))
    project = load_project(include)
    assert project.errors == [] and stem in project.exports


def test_a_fifo_is_refused_rather_than_read_forever(include):
    import os

    os.mkfifo(include / "exports" / "pipe.yaml")
    project = load_project(include)
    [error] = project.errors
    assert str(error) == "include/exports/pipe.yaml -> is not a regular file; remove it"


def test_an_editors_hidden_lock_file_is_not_a_definition(include):
    (include / "exports" / ".#daily_lead_backup.yaml").symlink_to("user@host.1234")
    project = load_project(include)
    assert project.errors == [] and "daily_lead_backup" in project.exports
