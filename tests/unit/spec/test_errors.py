"""Definition errors: file:line -> field -> problem; hint, and the hint itself."""

from __future__ import annotations

import pytest

from ferry.spec.errors import DefinitionError, did_you_mean, format_loc, shorten

from .helpers import GOOD_EXPORT, errors_of, write


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


def test_an_error_reads_file_line_field_problem_and_hint():
    error = DefinitionError(
        "include/exports/x.yaml", "unknown field 'a'", "a", 3, "did you mean 'b'?"
    )
    assert str(error) == "include/exports/x.yaml:3 -> a -> unknown field 'a'; did you mean 'b'?"
    assert (
        str(DefinitionError("include/x.yaml", "not valid YAML"))
        == "include/x.yaml -> not valid YAML"
    )


@pytest.mark.parametrize(
    "word, choices, hint",
    [
        ("scheduel", ["schedule", "source"], "did you mean 'schedule'?"),
        ("zzz", ["a", "b"], "choose one of: a, b"),
        ("zzz", [f"c{i}" for i in range(40)], ""),
        ("x" * 500, ["schedule"], "choose one of: schedule"),
    ],  # too long to guess
)
def test_did_you_mean_suggests_one_close_name_or_the_short_list(word, choices, hint):
    assert did_you_mean(word, choices) == hint


def test_shorten_never_prints_a_huge_value():
    assert shorten("x" * 500) == "'" + "x" * 56 + "..."
    assert shorten(["a"] * 10_000) == "a list"
    assert shorten({"a": 1}) == "a dict"


def test_a_location_reads_as_dotted_fields_and_indexes():
    assert format_loc(("destinations", 0, "path")) == "destinations[0].path"
    assert format_loc(("pii", "email", "action")) == "pii.email.action"
