"""expect: the export vocabulary checked on the rows about to load."""

from __future__ import annotations

import logging

import duckdb
import pytest

from ferry.imports.errors import ImportExpectationsFailed
from ferry.imports.expect import check_expectations
from ferry.imports.stage import STAGED
from ferry.spec.output import Expectation

LOG = logging.getLogger("test.expect")


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE {STAGED} AS SELECT * FROM (VALUES (1, 'a@x.org', 'gold'), "
        "(2, 'b@x.org', 'silver'), (2, NULL, 'tin'), (4, 'bad', NULL)) AS t(id, email, tier)"
    ).fetchall()
    return con


@pytest.mark.parametrize(
    ("expectation", "problem"),
    [
        ({"expect": "not_null", "field": "email"}, "not_null on email: 1 unexpected rows"),
        ({"expect": "unique", "field": "id"}, r"unique on id: 2 unexpected rows \(e.g. \['2'\]\)"),
        ({"expect": "regex", "field": "email", "pattern": "@x[.]org$"},
         r"regex on email: 1 unexpected rows \(e.g. \['bad'\]\)"),
        ({"expect": "value_set", "field": "tier", "values": ["gold", "silver"]},
         r"value_set on tier: 1 unexpected rows \(e.g. \['tin'\]\)"),
        ({"expect": "value_set", "field": "id", "values": [1, 2]}, "value_set on id: 1 unexpected"),
        ({"expect": "row_count_between", "min": 5},
         "row_count_between: 4 rows, expected between 5 and -"),
        ({"expect": "not_null", "field": "phone"}, "phone is not a column the import loads"),
    ],
)  # fmt: skip
def test_what_does_not_hold_fails_with_what_was_found(con, expectation, problem):
    with pytest.raises(ImportExpectationsFailed, match=problem):
        check_expectations(con, [Expectation(**expectation)], ["id", "email", "tier"], LOG)


def test_what_holds_passes_and_warnings_are_returned(con):
    held = [
        Expectation(expect="not_null", field="id"),
        Expectation(expect="row_count_between", min=1, max=4),
        Expectation(expect="regex", field="tier", pattern="^[a-z]+$"),
        Expectation(expect="value_set", field="tier", values=["gold", "silver", "tin"]),
    ]
    warned = Expectation(expect="unique", field="id", on_failure="warn")
    assert check_expectations(con, [*held, warned], ["id", "email", "tier"], LOG) == [
        "unique on id: 2 unexpected rows (e.g. ['2'])"
    ]


def test_a_hostile_pattern_is_a_bound_value(con):
    spec = Expectation(expect="regex", field="tier", pattern="' OR 1=1; --")
    with pytest.raises(ImportExpectationsFailed, match="3 unexpected"):
        check_expectations(con, [spec], ["tier"], LOG)


def test_a_pattern_duckdb_refuses_is_a_failed_expectation(con):
    spec = Expectation(expect="regex", field="tier", pattern="(unclosed")
    with pytest.raises(ImportExpectationsFailed, match=r"regex on tier: .*unclosed"):
        check_expectations(con, [spec], ["tier"], LOG)
