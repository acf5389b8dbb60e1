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


def test_bad_yaml_names_the_line(include):
    write(include, "exports/bad_yaml.yaml", "id: bad_yaml\nname: [unclosed\nsource: x\n")
    [error] = errors_of(include)
    assert error.startswith("include/exports/bad_yaml.yaml:3 -> not valid YAML")


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
