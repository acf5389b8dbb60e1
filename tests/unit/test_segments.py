"""The shipped segments on the demo warehouse, and SQL injection through segment definitions.

Expected members are computed in Python from the tables' rows. Injection is tried both
ways: through a value (bound, matched literally, even on the refresh's read-write
connection) and through a field name (rejected when the definition loads).
"""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ferry.spec.loader import load_project
from ferry.sql import compile_rule, quote
from include_copy import copy_include

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 24, 0, 0)
TITLES = ("CEO", "CTO", "CFO", "Chief Revenue Officer")


def high_value(row: dict) -> bool:
    value = row["lifetime_value"]
    in_reach = row["country"] == "US" or row["loyalty_tier"] in ("gold", "platinum")
    return value is not None and value > Decimal(500) and in_reach


def enterprise(row: dict) -> bool:
    return (row["employee_count"] or 0) >= 1000 and row["is_customer"] is True


def decision_maker(row: dict) -> bool:
    title = row["job_title"] or ""
    chosen = title in TITLES or title.lower().startswith("vp ") or "director" in title.lower()
    return row["email_consent"] is True and row["email"] is not None and chosen


def recently_active(row: dict) -> bool:
    updated = row["updated_at"]
    recent = updated is not None and NOW - dt.timedelta(days=30) <= updated <= NOW
    return row["is_active"] is True and recent and row["loyalty_tier"] != "bronze"


SHIPPED = {
    "high_value_customers": high_value,
    "enterprise_accounts": enterprise,
    "decision_makers": decision_maker,
    "recently_active_customers": recently_active,
}


@pytest.fixture(scope="module")
def project():
    return load_project(ROOT / "include")


def members(con, project, segment_id: str) -> list:
    segment = project.segments[segment_id]
    table_name = project.table_for_segment_type(segment.type)
    table = project.tables[table_name]
    where = compile_rule(segment.rules, table.columns, NOW)
    query = f"SELECT {quote(table.key)} FROM {quote(table_name)} WHERE {where.text} ORDER BY 1"
    return [row[0] for row in con.execute(query, list(where.params)).fetchall()]


def python_members(con, project, segment_id: str) -> list:
    table_name = project.table_for_segment_type(project.segments[segment_id].type)
    result = con.execute(f"SELECT * FROM {quote(table_name)}")
    names = [column[0] for column in result.description]
    rows = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    key = project.tables[table_name].key
    return sorted(row[key] for row in rows if SHIPPED[segment_id](row))


def test_every_shipped_segment_is_checked_here(project):
    assert set(project.segments) == set(SHIPPED)


@pytest.mark.parametrize("segment_id", sorted(SHIPPED))
def test_a_shipped_segment_chooses_exactly_its_members(warehouse, project, segment_id):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        expected = python_members(con, project, segment_id)
        assert len(expected) > 0
        assert members(con, project, segment_id) == expected


# --- Injection --------------------------------------------------------------------------------


@pytest.fixture
def include(tmp_path: Path) -> Path:
    target = copy_include(tmp_path)
    return target


def write_segment(include: Path, name: str, rules: str) -> None:
    text = f"id: {name}\nname: {name}\ntype: contact\nrules:\n" + textwrap.indent(rules, "  ")
    (include / "segments" / f"{name}.yaml").write_text(text)


def test_a_value_that_looks_like_sql_is_bound_on_the_refreshs_read_write_connection(
    include, warehouse, tmp_path, monkeypatch
):
    from ferry_demo import refresh as warehouse_refresh

    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    write_segment(include, "sneaky", textwrap.dedent("""\
        any:
          - {field: job_title, op: eq, value: "'; DROP TABLE contact; --"}
          - {field: last_name, op: in, value: ["x' OR 1=1 --", "O'Brien"]}
        """))  # fmt: skip
    project = load_project(include)
    assert project.errors == []
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(warehouse, copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        contacts = con.execute("SELECT count(*) FROM contact").fetchone()[0]
        obriens = con.execute("SELECT count(*) FROM contact WHERE last_name = 'O''Brien'")
        obriens = obriens.fetchone()[0]

    result = warehouse_refresh.run_refresh(copy, project, now=NOW, new_profiles=0)

    assert result.segments["sneaky"] == obriens > 0
    with duckdb.connect(str(copy), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM contact").fetchone()[0] == contacts
