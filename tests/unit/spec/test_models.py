"""The definition models: exports, segments and groups, and the errors they raise."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ferry.spec.loader import load_project
from ferry.spec.models import KEYED_ACTIONS, ExportSpec, Format, GroupSpec, PiiRule

from .helpers import GOOD_EXPORT, errors_of, write


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("tags: [" + "t" * 101 + "]\n", ":6 -> tags[0] -> string should have at most 100"),
        ("owner: " + "o" * 101 + "\n", ":6 -> owner -> string should have at most 100"),
        ("schedule: '0 0 31 2 *'\n", ":6 -> schedule -> '0 0 31 2 *' never runs: no such day"),
        (
            "schedule: '0 0 30 2 *'\nexpires: 2027-01-01\n",
            ":6 -> schedule -> '0 0 30 2 *' never runs",
        ),
        (
            "schedule: '0 2 * * *'\nexpires: 0001-01-01\n",
            ":7 -> expires -> expires 0001-01-01 is outside 2026-01-01 to 9998-12-31",
        ),
        (
            "schedule: once\ntimezone: America/New_York\nexpires: 9999-12-31\n",
            ":8 -> expires -> expires 9999-12-31 is outside",
        ),
    ],
)
def test_values_airflow_would_refuse_are_refused_when_they_load(include, extra, expected):
    write(include, "exports/extreme.yaml", GOOD_EXPORT.format(id="extreme") + extra)
    [error] = errors_of(include)
    assert error.startswith("include/exports/extreme.yaml") and expected in error


def test_an_invalid_source_table_is_one_clear_error(include):
    text = GOOD_EXPORT.format(id="spaced").replace("{table: lead}", '{table: "Lead Table"}')
    write(include, "exports/spaced.yaml", text)
    assert errors_of(include) == [
        "include/exports/spaced.yaml:3 -> source.table -> 'Lead Table' is not a valid id; "
        "use lowercase letters, digits and _ (a-z first)"
    ]


@pytest.mark.parametrize("source", ["lead", "{tabel: lead}"])
def test_a_source_without_table_or_segment_says_what_it_needs(include, source):
    text = GOOD_EXPORT.format(id="nosource").replace("{table: lead}", source)
    write(include, "exports/nosource.yaml", text)
    assert errors_of(include) == [
        "include/exports/nosource.yaml:3 -> source -> "
        "source needs table: <table>, segment: <segment id> or report: <table>"
    ]


def test_a_problem_across_fields_names_the_field_to_change(include):
    text = GOOD_EXPORT.format(id="mixed") + "kind: segment\ntarget: mailchimp\n"
    write(include, "exports/mixed.yaml", text)
    assert errors_of(include) == [
        "include/exports/mixed.yaml:3 -> source -> "
        "a segment export needs source: {segment: <segment id>}"
    ]


@pytest.mark.parametrize("action", ["keep", "exclude", "hash", "mask", "tokenize"])
def test_a_rule_is_keyed_exactly_when_it_hashes_or_tokenizes(action):
    assert PiiRule(action=action).keyed is (action in ("hash", "tokenize"))
    assert set(KEYED_ACTIONS) == {"hash", "tokenize"}


def test_normalize_without_a_keyed_action_names_the_field(include):
    text = GOOD_EXPORT.format(id="norm") + "pii: {state: {action: mask, normalize: true}}\n"
    write(include, "exports/norm.yaml", text)
    [error] = errors_of(include)
    assert error.startswith(
        "include/exports/norm.yaml:6 -> pii.state.normalize -> "
        "normalize applies to hash and tokenize, not mask"
    )


@pytest.mark.parametrize(
    "fmt, extension",
    [
        ({}, "csv"),
        ({"compression": "gzip"}, "csv.gz"),
        ({"type": "tsv", "compression": "zip"}, "tsv.zip"),
        ({"type": "parquet", "compression": "zstd"}, "parquet"),
        ({"type": "jsonl"}, "jsonl"),
    ],
)
def test_a_format_names_its_files_extension(fmt, extension):
    assert Format(**fmt).extension == extension


@pytest.mark.parametrize(
    "fmt, problem",
    [
        ({"type": "json", "formula_guard": True}, "formula_guard applies to csv and tsv"),
        ({"type": "csv", "compression": "zstd"}, "zstd compression is for parquet"),
        ({"type": "parquet", "compression": "zip"}, "parquet compresses inside the file"),
    ],
)
def test_a_format_refuses_what_its_type_cannot_do(fmt, problem):
    with pytest.raises(ValidationError, match=problem):
        Format(**fmt)


def test_two_fields_of_one_output_name_are_refused_at_the_second(include):
    text = GOOD_EXPORT.format(id="same").replace(
        "fields: [lead_id, state]", "fields: [lead_id, {field: state, as: LEAD_ID}]"
    )
    write(include, "exports/same.yaml", text)
    [error] = errors_of(include)
    assert error.startswith("include/exports/same.yaml:4 -> fields[1].as -> ")
    assert "lead_id" in error.lower()


def test_dag_ids_and_file_names_are_properties_of_the_models():
    project = load_project(__import__("pathlib").Path(__file__).resolve().parents[3] / "include")
    export = project.exports["daily_lead_backup"]
    assert export.dag_id.endswith("daily_lead_backup") and export.dag_id != export.id
    assert export.file_name == (export.format.name or export.id)
    group = next(iter(project.groups.values()))
    assert isinstance(group, GroupSpec) and group.dag_id.endswith(group.id)


def test_a_data_out_export_needs_a_table_source():
    with pytest.raises(ValidationError, match="a data_out export needs source"):
        ExportSpec.model_validate(
            {"id": "x", "name": "X", "source": {"segment": "s"}, "target": "t",
             "destinations": [{"type": "download"}]}
        )  # fmt: skip
