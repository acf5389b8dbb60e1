"""Segment rules compiled to SQL choose exactly the rows an independent Python reading does.

A small DuckDB table with NULLs, mixed case, quotes and boundary values; every operator and
nesting runs against it and is compared with row ids computed in Python.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal

import duckdb
import pytest

from ferry.spec.models import AllOf, ColumnSpec, Condition, NotOf
from ferry.sql import Sql, compile_condition, compile_rule, quote, value_type

NOW = dt.datetime(2026, 6, 15, 12, 0, 0)
COLUMNS = {
    "id": ColumnSpec(type="BIGINT"),
    "name": ColumnSpec(type="VARCHAR"),
    "country": ColumnSpec(type="VARCHAR"),
    "score": ColumnSpec(type="DECIMAL(12,2)"),
    "visits": ColumnSpec(type="INTEGER"),
    "active": ColumnSpec(type="BOOLEAN"),
    "born": ColumnSpec(type="DATE"),
    "seen_at": ColumnSpec(type="TIMESTAMP"),
}
D, T = dt.date, dt.datetime
ROWS = [
    (1, "Alice", "US", Decimal("500.00"), 3, True, D(1990, 1, 1), T(2026, 6, 15, 11, 0)),
    (2, "bob", "us", Decimal("500.01"), 2, False, D(1985, 5, 5), T(2026, 6, 1)),
    (3, "Carol O'Neil", "CA", Decimal("99.99"), 0, True, None, T(2026, 5, 16, 12, 0)),
    (4, None, None, None, None, None, None, None),
    (5, "x' OR 1=1 --", "GB", Decimal("1000"), 10, True, D(2000, 2, 29), T(2026, 5, 16, 11, 59)),
    (6, "100% _real_", "DE", Decimal("500.56"), 3, False, D(1970, 1, 1), T(2026, 7, 1)),
    (7, "ALICE smith", "US", Decimal("0"), 1, True, D(1999, 12, 31), T(2025, 1, 1)),
    (8, "", "", Decimal("-5.5"), 2, False, D(2001, 1, 1), T(2026, 6, 15, 12, 0)),
]
NAMES = list(COLUMNS)


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    types = ", ".join(f"{quote(name)} {spec.type}" for name, spec in COLUMNS.items())
    connection.execute(f"CREATE TABLE people ({types})")
    connection.execute("CREATE TABLE contact (contact_id BIGINT)")
    connection.executemany(f"INSERT INTO people VALUES ({', '.join('?' * len(NAMES))})", ROWS)
    yield connection
    connection.close()


def ids(con, where: Sql) -> list[int]:
    query = f"SELECT id FROM people WHERE {where.text} ORDER BY id"
    return [row[0] for row in con.execute(query, list(where.params)).fetchall()]


def rows_where(predicate) -> list[int]:
    """Ids of the rows whose value dict satisfies predicate, computed without SQL."""
    return [row[0] for row in ROWS if predicate(dict(zip(NAMES, row, strict=True)))]


# --- An independent reading of the documented semantics ---------------------------------


def _number(value):
    return Decimal(str(value)) if isinstance(value, (int, float, str, Decimal)) else value


def _as_column(field: str, value):
    """A YAML value as the column's Python type, as a reader of the rule expects it."""
    kind = COLUMNS[field].type
    if kind == "DATE" and isinstance(value, str):
        return D.fromisoformat(value)
    if kind == "TIMESTAMP" and isinstance(value, str):
        return T.fromisoformat(value)
    if kind.startswith(("DECIMAL", "INTEGER", "BIGINT")) and not isinstance(value, bool):
        return _number(value)
    return value


def condition_holds(condition: Condition, row: dict) -> bool:
    actual, op, value = row[condition.field], condition.op, condition.value
    if op == "is_null":
        return actual is None
    if op == "not_null":
        return actual is not None
    if op == "ne":
        return actual is None or actual != _as_column(condition.field, value)
    if op == "not_in":
        return actual is None or actual not in [_as_column(condition.field, v) for v in value]
    if actual is None:
        return False
    return _compare(op, actual, condition.field, value)


def _compare(op: str, actual, field: str, value) -> bool:
    if isinstance(value, list):
        typed = [_as_column(field, item) for item in value]
    else:
        typed = _as_column(field, value)
    checks = {
        "eq": lambda: actual == typed,
        "gt": lambda: actual > typed,
        "gte": lambda: actual >= typed,
        "lt": lambda: actual < typed,
        "lte": lambda: actual <= typed,
        "in": lambda: actual in typed,
        "between": lambda: typed[0] <= actual <= typed[1],
        "contains": lambda: str(value).lower() in _text(actual).lower(),
        "starts_with": lambda: _text(actual).lower().startswith(str(value).lower()),
        "regex": lambda: re.search(str(value), _text(actual)) is not None,
        "within_last_days": lambda: NOW - dt.timedelta(days=value) <= actual <= NOW,
    }
    return checks[op]()


def _text(value) -> str:
    """A value as DuckDB's CAST(... AS VARCHAR) writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def rule_holds(rule, row: dict) -> bool:
    if isinstance(rule, Condition):
        return condition_holds(rule, row)
    if isinstance(rule, NotOf):
        return not rule_holds(rule.not_, row)
    if isinstance(rule, AllOf):
        return all(rule_holds(child, row) for child in rule.all)
    return any(rule_holds(child, row) for child in rule.any)


# --- Every operator ------------------------------------------------------------------------

OPERATOR_CASES = [
    ("country", "eq", "US", [1, 7]),
    ("country", "ne", "US", [2, 3, 4, 5, 6, 8]),
    ("score", "eq", 500, [1]),
    ("active", "eq", True, [1, 3, 5, 7]),
    ("active", "ne", True, [2, 4, 6, 8]),
    ("country", "in", ["US", "CA"], [1, 3, 7]),
    ("country", "not_in", ["US", "CA"], [2, 4, 5, 6, 8]),
    ("visits", "in", [0, 10], [3, 5]),
    ("score", "gt", 500, [2, 5, 6]),
    ("score", "gt", 500.555, [5, 6]),
    ("score", "gte", "500.01", [2, 5, 6]),
    ("visits", "lt", 2, [3, 7]),
    ("visits", "gt", 2.5, [1, 5, 6]),
    ("visits", "lte", 2, [2, 3, 7, 8]),
    ("score", "between", [0, 500.005], [1, 3, 7]),
    ("born", "between", ["1985-05-05", "1999-12-31"], [1, 2, 7]),
    ("born", "gte", D(2000, 1, 1), [5, 8]),
    ("seen_at", "lt", "2026-06-01 00:00:00", [3, 5, 7]),
    ("name", "contains", "alice", [1, 7]),
    ("name", "contains", "%", [6]),
    ("name", "contains", "_r", [6]),
    ("name", "contains", "'", [3, 5]),
    ("name", "starts_with", "al", [1, 7]),
    ("name", "starts_with", "100%", [6]),
    ("name", "regex", "^[A-Z][a-z]+$", [1]),
    ("name", "regex", "(?i)smith$", [7]),
    ("name", "is_null", None, [4]),
    ("name", "not_null", None, [1, 2, 3, 5, 6, 7, 8]),
    ("score", "is_null", None, [4]),
    ("seen_at", "within_last_days", 30, [1, 2, 3, 8]),
    ("seen_at", "within_last_days", 1, [1, 8]),
]


@pytest.mark.parametrize(("field", "op", "value", "expected"), OPERATOR_CASES)
def test_each_operator_chooses_the_expected_rows(con, field, op, value, expected):
    condition = Condition(field=field, op=op, value=value)
    assert rows_where(lambda row: condition_holds(condition, row)) == expected
    assert ids(con, compile_condition(condition, COLUMNS, NOW)) == expected


def test_every_operator_is_covered():
    from typing import get_args

    from ferry.spec.models import FieldOp

    assert {case[1] for case in OPERATOR_CASES} == set(get_args(FieldOp))


def test_within_last_days_counts_back_from_the_run_not_the_clock(con):
    condition = Condition(field="seen_at", op="within_last_days", value=30)
    year_later = NOW + dt.timedelta(days=365)
    assert ids(con, compile_condition(condition, COLUMNS, NOW)) == [1, 2, 3, 8]
    assert ids(con, compile_condition(condition, COLUMNS, NOW)) == [1, 2, 3, 8]
    assert ids(con, compile_condition(condition, COLUMNS, year_later)) == []


def test_a_fractional_value_is_not_rounded_to_the_columns_scale():
    assert value_type("INTEGER", 2.5) == "DECIMAL(38,1)"
    assert value_type("DECIMAL(12,2)", "500.555") == "DECIMAL(38,3)"
    assert value_type("DECIMAL(12,2)", 500) == "DECIMAL(12,2)"
    assert value_type("VARCHAR", 2.5) == "VARCHAR"
    assert value_type("BOOLEAN", True) == "BOOLEAN"


# --- Nesting -----------------------------------------------------------------------------

US = {"field": "country", "op": "eq", "value": "US"}
HIGH = {"field": "score", "op": "gt", "value": 100}
ACTIVE = {"field": "active", "op": "eq", "value": True}
NESTED_CASES = [
    ({"all": [HIGH, {"any": [US, ACTIVE]}]}, [1, 5]),
    ({"any": [{"all": [US, ACTIVE]}, {"not": HIGH}]}, [1, 3, 4, 7, 8]),
    ({"not": {"any": [US, ACTIVE]}}, [2, 4, 6, 8]),
    ({"not": {"not": US}}, [1, 7]),
    ({"all": [{"not": US}, {"not": {"all": [HIGH, ACTIVE]}}]}, [2, 3, 4, 6, 8]),
    ({"any": [{"all": [{"any": [US, {"not": ACTIVE}]}, HIGH]}, {"not": {"not": {"not": HIGH}}}]},
     [1, 2, 3, 4, 6, 7, 8]),
]  # fmt: skip


def _rule(data: dict):
    from pydantic import TypeAdapter

    from ferry.spec.models import Rule

    return TypeAdapter(Rule).validate_python(data)


@pytest.mark.parametrize(("data", "expected"), NESTED_CASES)
def test_nested_rules_choose_the_expected_rows(con, data, expected):
    rule = _rule(data)
    assert rows_where(lambda row: rule_holds(rule, row)) == expected
    assert ids(con, compile_rule(rule, COLUMNS, NOW)) == expected


def test_not_is_the_complement_of_its_rule_even_with_nulls(con):
    for condition in (US, HIGH, ACTIVE, {"field": "name", "op": "contains", "value": "a"}):
        inside = ids(con, compile_rule(_rule(condition), COLUMNS, NOW))
        outside = ids(con, compile_rule(_rule({"not": condition}), COLUMNS, NOW))
        assert sorted(inside + outside) == [row[0] for row in ROWS]


def _random_condition(rng: random.Random) -> dict:
    field, op, value, _ = rng.choice(OPERATOR_CASES)
    condition = {"field": field, "op": op}
    if value is not None:
        condition["value"] = value
    return condition


def _random_rule(rng: random.Random, depth: int) -> dict:
    if depth == 0 or rng.random() < 0.3:
        return _random_condition(rng)
    kind = rng.choice(["all", "any", "not"])
    if kind == "not":
        return {"not": _random_rule(rng, depth - 1)}
    return {kind: [_random_rule(rng, depth - 1) for _ in range(rng.randint(1, 3))]}


def test_random_nestings_match_the_python_reading(con):
    rng = random.Random(20261124)
    for _ in range(300):
        rule = _rule(_random_rule(rng, depth=4))
        expected = rows_where(lambda row, rule=rule: rule_holds(rule, row))
        assert ids(con, compile_rule(rule, COLUMNS, NOW)) == expected, rule


# --- Injection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("eq", "x' OR 1=1 --", [5]),
        ("eq", "'; DROP TABLE contact; --", []),
        ("contains", "'; DROP TABLE contact; --", []),
        ("in", ["x' OR 1=1 --", "') OR ('1'='1"], [5]),
        ("regex", "x' OR 1=1 --", [5]),
        ("starts_with", "x' OR 1=1", [5]),
    ],
)
def test_a_value_that_looks_like_sql_is_matched_literally(con, op, value, expected):
    where = compile_condition(Condition(field="name", op=op, value=value), COLUMNS, NOW)
    assert "DROP" not in where.text and "1=1" not in where.text
    assert ids(con, where) == expected
    assert con.execute("SELECT count(*) FROM contact").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM people").fetchone() == (len(ROWS),)


def test_a_quoted_identifier_stays_one_name():
    assert quote('email" OR 1=1 --') == '"email"" OR 1=1 --"'


# --- Column types reach SQL only in their canonical, allow-listed spelling ----------------


def test_compiled_sql_holds_only_the_canonical_type(con):
    columns = {"score": ColumnSpec(type="numeric( 12 , 2 )"), "name": ColumnSpec(type="text")}
    assert columns["score"].type == "DECIMAL(12,2)"
    where = compile_rule(
        AllOf(all=[Condition(field="score", op="gt", value=500),
                   Condition(field="name", op="in", value=["bob", "Alice"])]),
        columns, NOW,
    )  # fmt: skip
    casts = where.text.split("CAST(? AS ")[1:]
    types = [re.match(r"(DECIMAL\(\d+,\d+\)|[A-Z]+)\)", cast).group(1) for cast in casts]
    assert types == ["DECIMAL(12,2)", "VARCHAR", "VARCHAR"]
    assert ids(con, where) == [2]


@pytest.mark.parametrize(
    "hostile",
    ["VARCHAR) OR (1=1", "BOOLEAN) OR ((SELECT count(*) FROM read_text('/etc/hostname')) > 0"],
)
def test_a_type_that_skipped_the_loader_never_reaches_sql(hostile):
    columns = {"name": ColumnSpec.model_construct(type=hostile)}
    with pytest.raises(ValueError, match="is not a column type Ferry knows"):
        compile_condition(Condition(field="name", op="eq", value="nobody"), columns, NOW)
