"""A changes-only export's definition is checked when it loads: its key, what it sends."""

from __future__ import annotations

from .helpers import GOOD_EXPORT, errors_of, write


def changes_export(include, extra: str, fields: str = "[lead_id, state]") -> None:
    text = GOOD_EXPORT.format(id="lead_changes").replace("[lead_id, state]", fields)
    write(include, "exports/lead_changes.yaml", text + extra)


def test_a_changes_export_with_the_tables_key_loads(include):
    changes_export(include, "changes: true\n")
    assert errors_of(include) == []


def test_a_declared_key_that_is_not_a_column_names_file_line_field_and_fix(include):
    changes_export(include, "changes: {key: lead_idd}\n")
    assert errors_of(include) == [
        "include/exports/lead_changes.yaml:6 -> changes.key -> table 'lead' has no column "
        "'lead_idd'; did you mean 'lead_id'?"
    ]


def test_a_key_the_export_does_not_send_is_refused_removed_rows_need_it(include):
    changes_export(include, "changes: {output: files}\n", fields="[state, source]")
    [error] = errors_of(include)
    assert error.startswith(
        "include/exports/lead_changes.yaml:6 -> changes -> the export does not send its key "
        "column 'lead_id'"
    )
    assert "add lead_id to fields" in error


def test_a_moving_window_is_refused_it_would_remove_rows_leaving_it(include):
    changes_export(include, "changes: true\nfilters: {window: {column: created_at}}\n")
    [error] = errors_of(include)
    assert error.startswith("include/exports/lead_changes.yaml:7 -> filters.window -> ")
    assert "remove filters.window" in error


def test_a_report_with_changes_is_refused(include):
    path = include / "exports" / "daily_leads_by_source.yaml"
    path.write_text(path.read_text() + "changes: true\n")
    [error] = errors_of(include)
    assert "daily_leads_by_source.yaml:" in error
    assert "-> changes -> changes-only delivery does not apply to a report" in error


def test_chunk_by_is_refused_a_changes_export_writes_its_changes_in_key_order(include):
    changes_export(include, "changes: true\nformat: {chunk_by: {column: created_at, every: day}}\n")
    [error] = errors_of(include)
    assert error.startswith("include/exports/lead_changes.yaml:7 -> format.chunk_by -> ")
    assert "remove format.chunk_by, or remove changes" in error


def test_a_masked_key_is_refused_two_keys_could_mask_to_one_value(include):
    changes_export(include, "changes: {key: email}\npii: {email: mask}\n",
                   fields="[lead_id, email]")  # fmt: skip
    [error] = errors_of(include)
    assert error.startswith(
        "include/exports/lead_changes.yaml:7 -> pii.email -> the key 'email' of a changes-only "
        "export cannot be masked"
    )
    assert "use email: hash or email: tokenize" in error


def test_a_hashed_key_loads(include):
    changes_export(include, "changes: {key: email}\npii: {email: hash}\n",
                   fields="[lead_id, email]")  # fmt: skip
    assert errors_of(include) == []
