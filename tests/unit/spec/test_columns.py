"""An export's output columns: one answer for `ferry validate`, the plan and validation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ferry.cli import main as ferry
from ferry.spec.columns import column_for, output_columns
from ferry.spec.loader import load_project
from ferry.spec.models import ExportSpec

from .helpers import GOOD_EXPORT, ROOT, errors_of, write

EXPORT = """\
id: people
name: People
source: {{table: lead}}
{fields}
{pii}
destinations: [{{type: download}}]
expectations: [{{expect: not_null, field: {field}}}]
"""


def validate(include: Path, capsys, fields: str, pii: str, field: str) -> tuple[int, str]:
    text = EXPORT.format(fields=fields, pii=pii, field=field)
    (include / "exports" / "people.yaml").write_text(textwrap.dedent(text))
    code = ferry(["validate", str(include)])
    return code, capsys.readouterr().out


@pytest.mark.parametrize(
    "fields, pii",
    [
        ("fields: all", "pii: {email: {action: exclude}}"),
        ("fields: all", "pii: {email: exclude}"),
        ("fields: [lead_id, email]", "pii: {email: {action: exclude}}"),
        ("fields: [lead_id, email]", "pii: {email: exclude}"),
    ],
)
def test_an_expectation_on_an_excluded_field_fails_validate(include, capsys, fields, pii):
    code, out = validate(include, capsys, fields, pii, "email")
    assert code == 1
    assert (
        "include/exports/people.yaml:7 -> expectations[0].field -> "
        "the files have no column 'email': it is PII the export excludes" in out
    )


def test_an_expectation_on_pii_nobody_decided_on_fails_validate(include, capsys):
    code, out = validate(include, capsys, "fields: all", "", "first_name")
    assert code == 1
    assert (
        "people.yaml:7 -> expectations[0].field -> the files have no column 'first_name': "
        "it is PII the export excludes" in out
    )


@pytest.mark.parametrize("pii", ["pii: {email: hash}", "pii: {email: {action: mask}}"])
def test_an_expectation_on_a_pii_field_the_export_sends_passes(include, capsys, pii):
    code, out = validate(include, capsys, "fields: all", pii, "email")
    assert (code, out.splitlines()[0][:3]) == (0, "OK:")


def test_a_renamed_field_is_named_by_its_output_or_its_source(include, capsys):
    fields = "fields: [lead_id, {field: state, as: State}]"
    assert validate(include, capsys, fields, "", "State")[0] == 0
    assert validate(include, capsys, fields, "", "state")[0] == 0
    code, out = validate(include, capsys, fields, "", "stat")
    assert code == 1
    assert "people.yaml:7 -> expectations[0].field -> the files have no column 'stat'" in out


def test_a_derived_field_is_named_by_its_output_only(include, capsys):
    fields = "fields: [lead_id, {field: email, as: email_domain, derive: email_domain}]"
    assert validate(include, capsys, fields, "", "email_domain")[0] == 0
    code, out = validate(include, capsys, fields, "", "email")
    assert code == 1
    assert "people.yaml:7 -> expectations[0].field -> the files have no column 'email'" in out


def _export(**overrides) -> ExportSpec:
    data = {"id": "people", "name": "People", "source": {"table": "lead"},
            "destinations": [{"type": "download"}], **overrides}  # fmt: skip
    return ExportSpec.model_validate(data)


def test_output_columns_rename_derive_and_exclude():
    table = load_project(ROOT / "include").tables["lead"]
    export = _export(
        fields=["lead_id", {"field": "state", "as": "State"},
                {"field": "email", "as": "email_domain", "derive": "email_domain"}, "phone"],
        pii={"phone": {"action": "mask", "keep_last": 4}},
    )  # fmt: skip
    columns, excluded = output_columns(export, table)
    assert [(c.source, c.name, c.derive) for c in columns] == [
        ("lead_id", "lead_id", None),
        ("state", "State", None),
        ("email", "email_domain", "email_domain"),
        ("phone", "phone", None),
    ]
    assert columns[3].pii.action == "mask" and columns[3].pii.keep_last == 4
    assert excluded == ()


def test_fields_all_keeps_pii_only_where_a_rule_sends_it():
    table = load_project(ROOT / "include").tables["lead"]
    export = _export(pii={"email": "keep", "phone": {"action": "exclude"}})
    columns, excluded = output_columns(export, table)
    names = [c.name for c in columns]
    assert "email" in names and columns[names.index("email")].pii is None  # keep: as is
    assert {"phone", "first_name", "last_name"} <= set(excluded)
    assert not set(excluded) & set(names)


def test_an_output_name_wins_over_a_source_name():
    table = load_project(ROOT / "include").tables["lead"]
    swapped = [{"field": "state", "as": "country"}, {"field": "country", "as": "state"}]
    columns, _ = output_columns(_export(fields=swapped), table)
    assert column_for(columns, "state").source == "country"
    assert column_for(columns, "country").source == "state"
    assert column_for(columns, "nowhere") is None


def test_expectation_on_a_column_the_files_lack_names_it(include):
    text = GOOD_EXPORT.format(id="expect") + "expectations: [{expect: not_null, field: stat}]\n"
    write(include, "exports/expect.yaml", text)
    [error] = errors_of(include)
    assert (
        "expectations[0].field -> the files have no column 'stat'; did you mean 'state'?" in error
    )


def test_email_domain_is_derived_without_a_pii_rule(include):
    fields = "fields: [lead_id, {field: email, as: email_domain, derive: email_domain}]"
    write(
        include,
        "exports/domains.yaml",
        GOOD_EXPORT.format(id="domains").replace("fields: [lead_id, state]", fields),
    )
    assert errors_of(include) == []
