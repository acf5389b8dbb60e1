"""Imports load like exports: each error names file, line and field; one broken import hides
nothing; the table, its columns and the merge key are checked against tables.yaml."""

from __future__ import annotations

import json

import pytest

from ferry.cli import main as ferry
from ferry.spec.loader import load_project

from .helpers import GOOD_EXPORT, ROOT, errors_of, write

GOOD_IMPORT = """\
id: {id}
name: Good import
source: {{type: folder, path: in, pattern: "x_{{{{ ds }}}}.csv"}}
table: lead
mode: merge
columns: [lead_id, state]
"""


def test_the_shipped_import_loads():
    project = load_project(ROOT / "include")
    assert project.errors == []
    assert "partner_leads" in project.imports
    assert project.files["imports:partner_leads"].name == "partner_leads.yaml"


def test_a_broken_import_hides_no_other_definition(include):
    write(include, "imports/good.yaml", GOOD_IMPORT.format(id="good"))
    write(include, "imports/broken.yaml", "id: broken\nname: Broken\nmode: merge\n")
    project = load_project(include)
    assert {"good", "partner_leads"} <= set(project.imports)
    assert "daily_lead_backup" in project.exports
    assert list(project.broken) == ["imports.broken"]
    messages = [str(error) for error in project.broken["imports.broken"]]
    assert "include/imports/broken.yaml:1 -> source -> required field is missing" in messages


def test_an_unknown_key_names_line_field_and_did_you_mean(include):
    text = GOOD_IMPORT.format(id="typo") + "wiat: {timeout: 1h}\n"
    write(include, "imports/typo.yaml", text)
    [error] = errors_of(include)
    assert error.startswith("include/imports/typo.yaml:7 -> wiat -> ")
    assert "did you mean 'wait'" in error


def test_a_duplicate_key_is_an_error(include):
    write(include, "imports/dup.yaml", GOOD_IMPORT.format(id="dup") + "mode: append\n")
    [error] = errors_of(include)
    assert "include/imports/dup.yaml:7 -> mode -> duplicate key 'mode' (first on line 5)" in error


@pytest.mark.parametrize(
    ("extra", "where", "problem"),
    [
        ("", "table", "unknown table 'leed'"),
        ("", "columns[1]", "table 'lead' has no column 'stat'"),
    ],
)
def test_table_and_columns_must_exist_with_did_you_mean(include, extra, where, problem):
    text = GOOD_IMPORT.format(id="refs")
    text = text.replace("table: lead", "table: leed") if where == "table" else text
    text = text.replace("state]", "stat]") if where != "table" else text
    write(include, "imports/refs.yaml", text + extra)
    [error] = errors_of(include)
    assert "include/imports/refs.yaml:" in error and f"-> {where} -> {problem}" in error
    assert "did you mean" in error


def test_a_mapped_column_names_the_field_to(include):
    text = GOOD_IMPORT.format(id="mapped").replace(
        "columns: [lead_id, state]", "columns:\n  - lead_id\n  - {field: E-mail, to: emial}"
    )
    write(include, "imports/mapped.yaml", text)
    [error] = errors_of(include)
    assert "mapped.yaml:8 -> columns[1].to -> table 'lead' has no column 'emial'" in error
    assert "did you mean 'email'" in error


def test_merge_needs_its_key_loaded(include):
    text = GOOD_IMPORT.format(id="nokey").replace("[lead_id, state]", "[state, country]")
    write(include, "imports/nokey.yaml", text)
    [error] = errors_of(include)
    assert "nokey.yaml:5 -> mode -> merge matches rows on 'lead_id', which is not loaded" in error
    text = GOOD_IMPORT.format(id="badkey") + "key: leadid\n"
    write(include, "imports/nokey.yaml", text)
    [error] = errors_of(include)
    assert "-> key -> table 'lead' has no column 'leadid'" in error


def test_an_id_of_both_an_export_and_an_import_is_an_error(include):
    write(include, "imports/clash.yaml", GOOD_IMPORT.format(id="daily_lead_backup"))
    project = load_project(include)
    assert "daily_lead_backup" in project.exports
    assert "daily_lead_backup" not in project.imports
    [error] = project.errors
    assert "clash.yaml:1 -> id -> id 'daily_lead_backup' is already the id of an export" in str(
        error
    )


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (
            "x_{{ run_id }}.csv",
            "placeholder 'run_id' is not allowed in a file name; use data_interval_end",
        ),
        ("{{ ''.__class__ }}.csv", "attribute access"),
        ("{% for x in y %}a{% endfor %}", "blocks are not allowed"),
        ("{{ ds | replace('-', '..') }}", "may not insert"),
        ("../x.csv", "is one file name: no '/'"),
        ("{{ logical_date.strftime('%Y/%m') }}.csv", "is one file name: no '/'"),
        ("{{ ds | replace('-', '') }}{{ y }}", "unknown placeholder 'y'"),
        ("{{ logical_date.strftime('%Y%m') }}{{ export_id }}", "'export_id' is not allowed"),
    ],
)
def test_a_hostile_pattern_is_refused_at_load(include, pattern, problem):
    text = GOOD_IMPORT.format(id="hostile").replace('"x_{{ ds }}.csv"', json.dumps(pattern))
    write(include, "imports/hostile.yaml", text)
    [error] = errors_of(include)
    assert "include/imports/hostile.yaml:3 -> source.pattern -> pattern " in error
    assert problem in error


@pytest.mark.parametrize("path", ["../etc", "a/../../b", "/abs", "in/{{ ds }}"])
def test_a_folder_path_escaping_the_drop_folder_is_refused(include, path):
    text = GOOD_IMPORT.format(id="escape").replace("path: in", f'path: "{path}"')
    write(include, "imports/escape.yaml", text)
    [error] = errors_of(include)
    assert "include/imports/escape.yaml:3 -> source.path -> " in error


def test_validate_counts_imports_and_fails_on_a_broken_one(include, monkeypatch, capsys):
    write(include, "imports/broken.yaml", "id: broken\nname: B\n")
    assert ferry(["validate", str(include)]) == 1
    out = capsys.readouterr().out
    assert "include/imports/broken.yaml:1" in out and "1 imports" in out


def test_schema_covers_imports(capsys):
    assert ferry(["schema", "--kind", "import"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "ImportSpec" and schema["additionalProperties"] is False
    assert "import__<id>" in schema["properties"]["id"]["description"]


def test_a_group_member_is_an_export_or_an_import_never_both(include):
    group = "id: g\nname: G\nmembers:\n  - {{{member}}}\n"
    write(include, "imports/good.yaml", GOOD_IMPORT.format(id="good"))
    write(include, "groups/g.yaml", group.format(member="import: good"))
    write(include, "exports/one.yaml", GOOD_EXPORT.format(id="one"))
    assert errors_of(include) == []
    write(include, "groups/g.yaml", group.format(member="import: good, export: one"))
    [error] = errors_of(include)
    assert "include/groups/g.yaml:4 -> members[0] -> " in error
    assert "export: <id> or import: <id>" in error
    write(include, "groups/g.yaml", group.format(member="import: goood"))
    [error] = errors_of(include)
    assert "g.yaml:4 -> members[0].import -> unknown import 'goood'" in error
    assert "did you mean 'good'" in error


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [("(a)\\\\1", "backreference"), ("a(?=b)", "lookaround"), ("a{2000}", "1000")],
)
def test_an_expectation_pattern_duckdb_re2_refuses_is_an_error_at_load(include, pattern, problem):
    """Python's re accepts these; DuckDB, which checks an import's rows, does not."""
    text = GOOD_IMPORT.format(id="rx") + (
        f'expectations:\n  - {{expect: regex, field: state, pattern: "{pattern}"}}\n'
    )
    write(include, "imports/rx.yaml", text)
    [error] = errors_of(include)
    assert "include/imports/rx.yaml:8 -> expectations[0].pattern -> " in error
    assert problem in error.lower()


def test_an_expectation_pattern_re2_accepts_loads(include):
    text = GOOD_IMPORT.format(id="rx") + (
        'expectations:\n  - {expect: regex, field: state, pattern: "^\\\\p{Lu}{2}\\\\z"}\n'
    )
    write(include, "imports/rx.yaml", text)
    assert errors_of(include) == []
