"""The loader on good and bad definitions: every error names file, line, field and fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ferry.cli import main as ferry
from ferry.spec.loader import load_project

from .helpers import GOOD_EXPORT, ROOT, errors_of, write


def test_the_shipped_definitions_load_without_errors():
    project = load_project(ROOT / "include")
    assert project.errors == []
    assert {"daily_lead_backup", "customer_profiles_csv"} <= set(project.exports)
    assert "mailchimp" in project.targets and "lead" in project.tables


def test_unknown_field_names_line_and_suggests_the_right_one(include):
    write(include, "exports/typo.yaml", GOOD_EXPORT.format(id="typo") + "scheduel: '@daily'\n")
    [error] = errors_of(include)
    assert error == (
        "include/exports/typo.yaml:6 -> scheduel -> unknown field 'scheduel'; "
        "did you mean 'schedule'?"
    )


def test_wrong_type_and_bad_choice_are_each_reported(include):
    text = GOOD_EXPORT.format(id="types") + "retries: many\nformat: {type: cvs}\n"
    write(include, "exports/types.yaml", text)
    errors = errors_of(include)
    assert any(":6 -> retries -> input should be a valid integer" in e for e in errors)
    assert any(
        ":7 -> format.type -> 'cvs' is not allowed; did you mean 'csv'?" in e for e in errors
    )


def test_bad_yaml_names_the_line(include):
    write(include, "exports/bad_yaml.yaml", "id: bad_yaml\nname: [unclosed\nsource: x\n")
    [error] = errors_of(include)
    assert error.startswith("include/exports/bad_yaml.yaml:3 -> not valid YAML")


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


def test_a_broken_file_hides_no_other_export(include):
    write(include, "exports/broken.yaml", "id: broken\nname: Broken\n")
    project = load_project(include)
    assert "daily_lead_backup" in project.exports
    assert list(project.broken) == ["exports.broken"]
    messages = [str(error) for error in project.broken["exports.broken"]]
    assert "include/exports/broken.yaml:1 -> destinations -> required field is missing" in messages


def test_duplicate_ids_break_only_the_second_file(include):
    write(include, "exports/zz_copy.yaml", GOOD_EXPORT.format(id="daily_lead_backup"))
    project = load_project(include)
    assert "daily_lead_backup" in project.exports
    [error] = project.errors
    assert "zz_copy.yaml:1 -> id -> id 'daily_lead_backup' is already used by" in str(error)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../../etc/{{ part }}.csv", "'..' or '.' segments"),
        ("/abs/{{ part }}.csv", "must be relative"),
        ("a//{{ part }}.csv", "empty path segment"),
        ("x/{{ dss }}/{{ part }}.csv", "unknown placeholder 'dss'"),
        ("x/{{ part }.csv", "template syntax error"),
    ],
)
def test_unsafe_s3_paths_are_rejected(include, path, problem):
    text = GOOD_EXPORT.format(id="paths").replace(
        "[{type: download}]", f'[{{type: s3, connection: aws, bucket: bkt, path: "{path}"}}]'
    )
    write(include, "exports/paths.yaml", text)
    [error] = errors_of(include)
    assert "destinations[0].path -> path" in error and problem in error


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


def test_validate_lists_every_error_and_exits_non_zero(include, monkeypatch, capsys):
    write(include, "exports/one.yaml", "id: one\nname: One\n")
    write(include, "exports/two.yaml", GOOD_EXPORT.format(id="two") + "colour: red\n")
    assert ferry(["validate", str(include)]) == 1
    out = capsys.readouterr().out
    assert "exports/one.yaml" in out and "exports/two.yaml" in out
    assert "error(s) in 2 file(s)" in out


def test_validate_passes_on_the_shipped_definitions(capsys):
    assert ferry(["validate", str(ROOT / "include")]) == 0
    assert capsys.readouterr().out.startswith("OK:")


def test_schema_is_json_schema_that_forbids_unknown_keys(capsys):
    assert ferry(["schema", "--kind", "export"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False
    assert {"id", "source", "destinations"} <= set(schema["required"])


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
        "source needs table: <table> or segment: <segment id>"
    ]


def test_a_problem_across_fields_names_the_field_to_change(include):
    text = GOOD_EXPORT.format(id="mixed") + "kind: segment\ntarget: mailchimp\n"
    write(include, "exports/mixed.yaml", text)
    assert errors_of(include) == [
        "include/exports/mixed.yaml:3 -> source -> "
        "a segment export needs source: {segment: <segment id>}"
    ]


def test_schema_and_cross_file_errors_are_shown_together(include):
    text = GOOD_EXPORT.format(id="both").replace("state]", "stat]")
    text += "retries: many\nscheduel: daily\npii: {emial: hash}\n"
    write(include, "exports/both.yaml", text)
    errors = errors_of(include)
    assert [e.split(" -> ")[1] for e in errors] == ["retries", "scheduel", "fields[1]", "pii.emial"]
    assert "table 'lead' has no column 'stat'; did you mean 'state'?" in errors[2]
    assert "table 'lead' has no column 'emial'; did you mean 'email'?" in errors[3]


def test_cross_file_checks_skip_what_a_failed_field_decides(include):
    text = GOOD_EXPORT.format(id="renamed").replace(
        "fields: [lead_id, state]", "fields: [lead_id, {field: state, as: 7}]"
    )
    text += "expectations: [{expect: not_null, field: region}]\n"
    write(include, "exports/renamed.yaml", text)
    [error] = errors_of(include)
    assert "fields[1].as -> input should be a valid string" in error


HOSTILE = {
    "latin1.yaml": "id: latin1\nname: Café\n".encode("latin-1"),
    "utf16.yaml": GOOD_EXPORT.format(id="utf16").encode("utf-16"),
    "feb30.yaml": (GOOD_EXPORT.format(id="feb30") + "expires: 2026-02-30\n").encode(),
    "bomb.yaml": (
        "".join(
            f"x{n}: &x{n} [{', '.join([f'*x{n - 1}' if n else 'lol'] * 9)}]\n" for n in range(9)
        )
        + "kind: *x8\n"
    ).encode(),
    "zone.yaml": (GOOD_EXPORT.format(id="zone") + f"timezone: {'z' * 5000}\n").encode(),
}


def test_validate_prints_no_traceback_for_hostile_files(include, capsys):
    for name, content in HOSTILE.items():
        (include / "exports" / name).write_bytes(content)
    assert ferry(["validate", str(include)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    for name in HOSTILE:
        assert f"include/exports/{name}:" in captured.out
    assert f"error(s) in {len(HOSTILE)} file(s)" in captured.out


def test_a_file_with_thousands_of_problems_lists_fifty_and_counts_the_rest(include):
    text = GOOD_EXPORT.format(id="noisy") + "".join(f"key{n}: 1\n" for n in range(2000))
    write(include, "exports/noisy.yaml", text)
    errors = errors_of(include)
    assert len(errors) == 51
    assert errors[-1].startswith("include/exports/noisy.yaml:56 -> key50 -> unknown field")
    assert errors[-1].endswith("and 1949 more problems after this one")


def _duplicate_line(path: Path, line: str) -> int:
    """Write line twice (the second right after the first); returns the second's number."""
    lines = path.read_text().splitlines(keepends=True)
    index = lines.index(line)
    lines.insert(index + 1, line)
    path.write_text("".join(lines))
    return index + 2


def test_a_broken_table_refuses_only_what_uses_it(include):
    tables = include / "warehouse" / "tables.yaml"
    line = _duplicate_line(tables, "      city: {type: VARCHAR}\n")
    project = load_project(include)
    [error] = project.broken["warehouse.tables"]
    assert str(error) == (
        f"include/warehouse/tables.yaml:{line} -> tables.customer_profile.columns.city -> "
        f"duplicate key 'city' (first on line {line - 1}); keep one: YAML would silently use "
        "the last"
    )
    assert "customer_profile" not in project.tables
    assert {"lead", "contact", "account"} <= set(project.tables)
    assert {"daily_lead_backup", "linkedin_enterprise_accounts"} <= set(project.exports)
    errors = "\n".join(str(error) for error in project.errors)
    assert (
        "include/exports/customer_profiles_csv.yaml:6 -> source.table -> "
        "table 'customer_profile' has errors of its own; fix it first"
    ) in errors
    assert (
        "include/segments/high_value_customers.yaml:4 -> type -> "
        "table 'customer_profile' has errors of its own; fix it first"
    ) in errors
    assert "segment 'high_value_customers' has errors of its own" in errors
    assert "unknown" not in errors


def test_a_broken_target_refuses_only_the_segment_exports_on_it(include):
    targets = include / "targets.yaml"
    line = _duplicate_line(targets, "  mailchimp:\n")
    project = load_project(include)
    [error] = project.broken["include.targets"]
    assert str(error).startswith(
        f"include/targets.yaml:{line} -> targets.mailchimp -> duplicate key 'mailchimp'"
    )
    assert "mailchimp" not in project.targets and "linkedin_companies" in project.targets
    assert "linkedin_enterprise_accounts" in project.exports
    [refused] = project.broken["exports.mailchimp_high_value"]
    assert str(refused) == (
        "include/exports/mailchimp_high_value.yaml:7 -> target -> "
        "target 'mailchimp' has errors of its own; fix it first"
    )


def test_a_bad_value_in_one_target_keeps_the_others(include):
    targets = include / "targets.yaml"
    targets.write_text(targets.read_text().replace("max_rows: 300000", "max_rows: -1", 1))
    project = load_project(include)
    [error] = project.broken["include.targets"]
    assert "targets.linkedin_companies.max_rows -> " in str(error)
    assert "linkedin_companies" not in project.targets and "mailchimp" in project.targets
    assert "mailchimp_high_value" in project.exports
    assert "target 'linkedin_companies' has errors" in str(
        project.broken["exports.linkedin_enterprise_accounts"][0]
    )


@pytest.mark.parametrize(
    "text, problem",
    [
        ("tables: {}\ntables: {}\n", "duplicate key 'tables'"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("tables: [a]\n", "tables -> "),
        ("tables: {a: [\n", "not valid YAML"),
    ],
)
def test_a_problem_of_the_whole_catalogue_refuses_every_entry(include, text, problem):
    (include / "warehouse" / "tables.yaml").write_text(text)
    project = load_project(include)
    assert project.tables == {} and project.exports == {}
    assert problem in str(project.broken["warehouse.tables"][0])


@pytest.mark.parametrize(
    "op, value, problem",
    [
        ("in", "[{a: 1}]", "a mapping is not a single value; op in takes"),
        ("not_in", "[TX, [CA]]", "a list is not a single value; op not_in takes"),
        ("between", "[[1], 2]", "a list is not a single value; op between takes"),
        ("in", "[TX, null]", "null in op in matches nothing; use op: is_null or not_null"),
    ],
)
def test_a_value_item_that_is_not_a_single_value_is_refused(include, op, value, problem):
    rule = f"{{field: state, op: {op}, value: {value}}}"
    write(
        include,
        "exports/items.yaml",
        GOOD_EXPORT.format(id="items") + f"filters:\n  where: [{rule}]\n",
    )
    [error] = errors_of(include)
    assert error.startswith("include/exports/items.yaml:7 -> filters.where[0].value[")
    assert problem in error


def test_a_segment_rule_with_a_mapping_in_its_list_is_refused(include):
    write(
        include,
        "segments/items.yaml",
        """\
        id: items
        name: Items
        type: contact
        rules: {all: [{field: email, op: in, value: [{a: 1}]}]}
        """,
    )
    [error] = errors_of(include)
    assert error.startswith("include/segments/items.yaml:4 -> rules.all[0].value[0] -> a mapping")
