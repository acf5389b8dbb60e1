"""Segment rules and where filters: conditions and all / any / not of them."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from ferry.spec.rules import AllOf, AnyOf, Condition, NotOf, Rule

from .helpers import GOOD_EXPORT, errors_of, write


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


def where_error(include, condition: str) -> str:
    write(
        include,
        "exports/cond.yaml",
        GOOD_EXPORT.format(id="cond") + f"filters:\n  where: [{condition}]\n",
    )
    [error] = errors_of(include)
    return error


@pytest.mark.parametrize(
    "condition, expected",
    [
        (
            "{field: state, op: is_null, value: x}",
            "where[0].value -> op is_null takes no value; remove 'value'",
        ),
        (
            "{field: state, op: in, value: TX}",
            "where[0].value -> op in needs a non-empty list as value, e.g. [TX, CA]",
        ),
        ("{field: state, op: in, value: []}", "where[0].value -> op in needs a non-empty list"),
        (
            "{field: state, op: between, value: [1]}",
            "where[0].value -> op between needs a two-item list as value: [low, high]",
        ),
        (
            "{field: created_at, op: within_last_days, value: 0}",
            "where[0].value -> op within_last_days needs a whole number of days from 1 to",
        ),
        (
            "{field: created_at, op: within_last_days, value: true}",
            "where[0].value -> op within_last_days needs a whole number",
        ),
        (
            "{field: state, op: eq, value: [TX, CA]}",
            "where[0].value -> op eq needs a single value; for several use op: in",
        ),
        ("{field: state, op: eq}", "where[0].value -> op eq needs a single value"),
        ("{field: state, op: like, value: TX}", "where[0].op -> 'like' is not allowed"),
    ],
)
def test_a_value_that_does_not_fit_its_op_names_the_line_and_field(include, condition, expected):
    error = where_error(include, condition)
    assert error.startswith("include/exports/cond.yaml:7 -> filters.")
    assert expected in error


def test_rules_nest_by_their_key():
    rule = TypeAdapter(Rule).validate_python(
        {"all": [{"field": "a", "op": "eq", "value": 1},
                 {"any": [{"not": {"field": "b", "op": "is_null"}},
                          {"field": "c", "op": "in", "value": [1, 2]}]}]}
    )  # fmt: skip
    assert isinstance(rule, AllOf)
    first, second = rule.all
    assert isinstance(first, Condition) and first.value == 1
    assert isinstance(second, AnyOf) and isinstance(second.any[0], NotOf)
    assert second.any[0].not_ == Condition(field="b", op="is_null")


def test_an_empty_all_is_refused():
    with pytest.raises(ValidationError, match="at least 1 item"):
        TypeAdapter(Rule).validate_python({"all": []})
