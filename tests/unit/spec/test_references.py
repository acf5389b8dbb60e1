"""Cross-file checks: a definition's names of tables, columns, segments, targets, exports."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from ferry.spec.loader import load_project

from .helpers import GOOD_EXPORT, errors_of, team_include, write


def write_segment(include: Path, name: str, rules: str) -> None:
    text = f"id: {name}\nname: {name}\ntype: contact\nrules:\n" + textwrap.indent(rules, "  ")
    (include / "segments" / f"{name}.yaml").write_text(text)


def test_unknown_segment_table_and_column_suggest_fixes(include):
    write(
        include,
        "exports/refs.yaml",
        """\
        id: refs
        name: Refs
        kind: segment
        source: {segment: high_value_customer}
        target: mailchimp
        destinations: [{type: download}]
        """,
    )
    write(include, "exports/cols.yaml", GOOD_EXPORT.format(id="cols").replace("state]", "stat]"))
    errors = errors_of(include)
    assert (
        "include/exports/refs.yaml:4 -> source.segment -> unknown segment "
        "'high_value_customer'; did you mean 'high_value_customers'?"
    ) in errors
    assert (
        "include/exports/cols.yaml:4 -> fields[1] -> table 'lead' has no column 'stat'; "
        "did you mean 'state'?"
    ) in errors


def test_pii_field_listed_without_a_rule_says_how_to_fix(include):
    write(include, "exports/pii.yaml", GOOD_EXPORT.format(id="pii").replace("state]", "email]"))
    [error] = errors_of(include)
    assert "fields[1] -> 'email' is PII" in error and "add pii: {email: keep}" in error


def test_exports_that_depend_on_each_other_in_a_circle_are_broken(include):
    for name, other in (("ring_a", "ring_b"), ("ring_b", "ring_a")):
        write(
            include,
            f"exports/{name}.yaml",
            GOOD_EXPORT.format(id=name) + f"depends_on: [{other}]\n",
        )
    project = load_project(include)
    assert not {"ring_a", "ring_b"} & set(project.exports)
    assert all("depends on itself" in str(e) for e in project.errors)


def test_group_members_must_exist(include):
    write(
        include,
        "groups/nightly.yaml",
        "id: nightly\nname: Nightly\nmembers:\n  - {export: daily_lead_bakup}\n",
    )
    [error] = errors_of(include)
    assert "members[0].export -> unknown export 'daily_lead_bakup'" in error
    assert "did you mean 'daily_lead_backup'?" in error


def test_segment_regex_outside_re2_is_rejected_when_it_loads(include):
    write(
        include,
        "segments/lookahead.yaml",
        """\
        id: lookahead
        name: Lookahead
        type: contact
        rules: {field: email, op: regex, value: "^(?!test).*@example[.]com$"}
        """,
    )
    [error] = errors_of(include)
    assert "segments/lookahead.yaml:4 -> rules.value -> lookarounds" in error


@pytest.mark.parametrize(
    "value, problem",
    [
        ('"(?P<x>a)(?P=x)"', "backreferences are not supported"),
        ('"a{1001}"', "a repeat count over 1000 is not supported"),
        ('"(a)\\\\1"', "backreferences (\\1) are not supported"),
    ],
)
def test_a_regex_duckdb_would_refuse_at_run_time_is_refused_at_load(include, value, problem):
    rule = f"{{field: state, op: regex, value: {value}}}"
    text = GOOD_EXPORT.format(id="rx") + f"filters:\n  where: [{rule}]\n"
    write(include, "exports/rx.yaml", text)
    [error] = errors_of(include)
    assert error.startswith("include/exports/rx.yaml:7 -> filters.where[0].value -> ")
    assert problem in error


def test_a_unicode_class_regex_re2_knows_loads(include):
    rule = r"{field: state, op: regex, value: '^\p{Greek}+$'}"
    write(
        include,
        "exports/greek.yaml",
        GOOD_EXPORT.format(id="greek") + f"filters: {{where: [{rule}]}}\n",
    )
    assert errors_of(include) == []


def test_an_expectation_pattern_python_cannot_compile_is_refused_at_load(include):
    text = (
        GOOD_EXPORT.format(id="gx")
        + "expectations: [{expect: regex, field: state, pattern: '(a'}]\n"
    )
    write(include, "exports/gx.yaml", text)
    [error] = errors_of(include)
    assert "gx.yaml:6 -> expectations[0].pattern -> not a valid regular expression" in error


def test_rule_values_that_do_not_fit_the_column_type_are_errors_when_they_load(include):
    write(
        include,
        "segments/typed.yaml",
        """\
        id: typed
        name: Typed
        type: customer_profile
        rules:
          all:
            - {field: lifetime_value, op: gt, value: lots}
            - {field: order_count, op: in, value: [1, 2.5]}
            - {field: email_consent, op: eq, value: "yes"}
            - {field: updated_at, op: between, value: [2026-01-01, 31/01/2026]}
            - {field: order_count, op: gte, value: "3"}
            - {field: updated_at, op: gte, value: 2026-01-01T08:00:00}
        """,
    )
    errors = errors_of(include)
    assert len(errors) == 4, errors
    assert "typed.yaml:6 -> rules.all[0].value -> 'lots' is not a number" in errors[0]
    assert (
        "rules.all[1].value -> 2.5 is not a whole number, which the column (INTEGER)" in errors[1]
    )
    assert "rules.all[2].value -> 'yes' is not true or false" in errors[2]
    assert "rules.all[3].value -> '31/01/2026' is not a date or time" in errors[3]


def test_export_filter_values_are_checked_against_the_column_too(include):
    text = GOOD_EXPORT.format(id="typed_filter") + (
        "filters: {where: [{field: lead_id, op: eq, value: abc}]}\n"
    )
    write(include, "exports/typed_filter.yaml", text)
    [error] = errors_of(include)
    assert (
        "filters.where[0].value -> 'abc' is not a whole number, which the column (BIGINT)" in error
    )


@pytest.mark.parametrize(
    ("field", "hint"),
    [
        ('email"', "; did you mean 'email'?"),
        ("job_title'", "; did you mean 'job_title'?"),
        ('email" OR 1=1 --', ""),
        ("job_title; DROP TABLE contact; --", ""),
    ],
)
def test_a_field_name_with_a_quote_or_sql_is_rejected_when_it_loads(include, field, hint):
    rules = f"all:\n  - {{field: {json.dumps(field)}, op: eq, value: x}}\n"
    write_segment(include, "evil", rules)
    (include / "exports" / "evil_export.yaml").write_text(
        "id: evil_export\nname: Evil\nkind: segment\nsource: {segment: evil}\n"
        "target: mailchimp\nfields: [email]\npii: {email: keep}\n"
        "destinations: [{type: download}]\n"
    )
    project = load_project(include)

    assert "evil" not in project.segments and "evil_export" not in project.exports
    messages = [str(error) for error in project.errors]
    assert messages[0] == (
        f"include/segments/evil.yaml:6 -> rules.all[0].field -> "
        f"table 'contact' has no column '{field}'{hint}"
    )
    assert "segment 'evil' has errors of its own; fix it first" in messages[1]
    assert "mailchimp_high_value" in project.exports  # the others still load


def test_two_destinations_of_one_task_name_are_refused_at_the_second(include):
    text = GOOD_EXPORT.format(id="twice").replace(
        "[{type: download}]", "[{type: download}, {type: download}]"
    )
    write(include, "exports/twice.yaml", text)
    [error] = errors_of(include)
    assert error == (
        "include/exports/twice.yaml:5 -> destinations[1] -> a second download destination; "
        "give each a distinct name, e.g. name: download_2"
    )


def test_a_group_that_lists_an_export_twice_names_the_second(include):
    members = "  - {export: daily_lead_backup}\n" * 2
    write(include, "groups/twice.yaml", f"id: twice\nname: Twice\nmembers:\n{members}")
    [error] = errors_of(include)
    assert error == (
        "include/groups/twice.yaml:5 -> members[1].export -> "
        "export 'daily_lead_backup' is listed twice; list each once"
    )


def test_depends_on_an_unknown_name_suggests_the_known_one(include):
    text = GOOD_EXPORT.format(id="late") + "depends_on: [daily_lead_bakup]\n"
    write(include, "exports/late.yaml", text)
    [error] = errors_of(include)
    assert error.startswith(
        "include/exports/late.yaml:6 -> depends_on[0] -> "
        "'daily_lead_bakup' is not a table, segment or export; did you mean 'daily_lead_backup'?"
    )


def test_contacts_of_accounts_needs_an_account_segment(include):
    text = (
        "id: contacts\nname: Contacts\nkind: segment\nsource: {segment: decision_makers}\n"
        "target: mailchimp\ncontacts_of_accounts: true\nfields: [contact_id]\n"
        "destinations: [{type: download}]\n"
    )
    write(include, "exports/contacts.yaml", text)
    [error] = errors_of(include)
    assert error == (
        "include/exports/contacts.yaml:6 -> contacts_of_accounts -> "
        "only an account segment has contacts"
    )


def test_contacts_of_accounts_needs_contacts_and_accounts_on_one_connection(tmp_path):
    [error] = errors_of(team_include(tmp_path, people_connection="pg_crm"))
    assert error == (
        "include/exports/people.yaml:6 -> contacts_of_accounts -> the contacts (table "
        "'crm_people', connection pg_crm) and the accounts (table 'crm_companies', connection "
        "ferry_warehouse) are on different connections, and the accounts' rule runs inside the "
        "contacts' read; put both tables on one connection in tables.yaml, or export the accounts"
    )


def test_contacts_of_accounts_needs_the_account_key_in_the_contact_table(tmp_path):
    [error] = errors_of(team_include(tmp_path, link="employer_id"))
    assert error.startswith(
        "include/exports/people.yaml:6 -> contacts_of_accounts -> table 'crm_people' "
        "(segment_type contact) has no column 'company_id', the key of table 'crm_companies'"
    )
    assert error.endswith("add company_id to the columns of 'crm_people'")


def test_contacts_of_accounts_without_a_contact_table_says_which_type_to_add(tmp_path):
    include = team_include(tmp_path)
    tables = include / "warehouse" / "tables.yaml"
    tables.write_text(tables.read_text().replace("    segment_type: contact\n", ""))
    [error] = errors_of(include)
    assert error == (
        "include/exports/people.yaml:6 -> contacts_of_accounts -> no table in tables.yaml has "
        "segment_type contact; add segment_type: contact to the entry of that table in tables.yaml"
    )


def test_two_tables_of_one_segment_type_refuse_the_second_where_it_says_so(tmp_path):
    include = team_include(tmp_path)
    tables = include / "warehouse" / "tables.yaml"
    second = "  leads:\n    key: id\n    segment_type: account\n    columns: {id: {type: BIGINT}}\n"
    tables.write_text(tables.read_text() + second)
    project = load_project(include)
    assert [str(error) for error in project.errors] == [
        "include/warehouse/tables.yaml:18 -> tables.leads.segment_type -> segment_type account "
        "is already the type of table 'crm_companies'; one table per segment type: remove "
        "segment_type from 'leads' or 'crm_companies'"
    ]
    assert (
        "leads" not in project.tables
        and project.table_of(project.exports["people_of_big_companies"]) == "crm_people"
    )


def _chunked(export_id: str, chunk_by: str, source: str = "{table: lead}") -> str:
    return (
        f"id: {export_id}\nname: Chunked\nsource: {source}\nfields: [lead_id, state]\n"
        f"destinations: [{{type: download}}]\nformat:\n  chunk_by: {chunk_by}\n"
    )


def test_chunk_by_names_a_time_column_of_the_table(include):
    write(include, "exports/typo.yaml", _chunked("typo", "{column: create_at, every: week}"))
    hostile = "{column: 'created_at\"); DROP TABLE lead; --', every: day}"
    write(include, "exports/hostile.yaml", _chunked("hostile", hostile))
    write(include, "exports/text.yaml", _chunked("text", "{column: state, every: month}"))
    write(include, "exports/fine.yaml", _chunked("fine", "{column: created_at, every: hour}"))
    errors = errors_of(include)
    assert (
        "include/exports/typo.yaml:7 -> format.chunk_by.column -> table 'lead' has no column "
        "'create_at'; did you mean 'created_at'?"
    ) in errors
    assert any(
        e.startswith("include/exports/hostile.yaml:7 -> format.chunk_by.column -> table 'lead' "
                     "has no column 'created_at\"); DROP TABLE lead; --'")
        for e in errors
    )  # fmt: skip
    assert (
        "include/exports/text.yaml:7 -> format.chunk_by.column -> 'state' needs a DATE or "
        "TIMESTAMP column; this one is VARCHAR"
    ) in errors
    assert not [e for e in errors if "fine.yaml" in e]
    assert "fine" in load_project(include).exports


def test_chunk_by_hour_of_a_date_column_is_refused(include):
    text = _chunked("birthdays", "{column: birth_date, every: hour}", "{table: customer_profile}")
    write(include, "exports/birthdays.yaml", text.replace("lead_id, state", "profile_id"))
    assert errors_of(include) == [
        "include/exports/birthdays.yaml:7 -> format.chunk_by.every -> 'birth_date' is a DATE: "
        "it has no hours; use every: day, week or month"
    ]


def test_chunk_by_on_a_report_is_refused_with_the_bucket_to_use(include):
    text = (
        "id: weekly\nname: Weekly\nkind: report\nsource:\n  report: lead\n  group_by: [source]\n"
        "  metrics: [{name: leads, count: '*'}]\ndestinations: [{type: download}]\n"
        "format:\n  chunk_by: {column: created_at, every: week}\n"
    )
    write(include, "exports/weekly.yaml", text)
    assert errors_of(include) == [
        "include/exports/weekly.yaml:10 -> format.chunk_by -> a report's rows are groups, not "
        "timed rows; group by the period instead: {column: created_at, bucket: week}"
    ]
