"""`ferry tables import` and `ferry validate --live` against a real PostgreSQL server: the
catalogue read, the user's edits kept across re-imports, and every kind of drift named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_runner import run_ferry
from include_copy import copy_include

pytestmark = pytest.mark.integration

SHOP = """
DROP SCHEMA IF EXISTS shop CASCADE;
CREATE SCHEMA shop;
CREATE TABLE shop.orders (
    order_id bigint PRIMARY KEY, customer_email text, ship_date date,
    amount numeric(12,2), tags integer[], detail jsonb, wait interval,
    modified_at timestamptz, created_at timestamptz);
CREATE TABLE shop.page_views (view_id bigint, client_ip text, created_at timestamp);
"""


@pytest.fixture
def pg(postgres, tmp_path: Path, monkeypatch, warehouse):
    """A copy of include/, the demo as ferry_warehouse, and the connection pg: a shop schema."""
    postgres.execute(SHOP)
    include = copy_include(tmp_path)
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    monkeypatch.setenv("FERRY_WAREHOUSE", str(warehouse))
    monkeypatch.delenv("AIRFLOW_CONN_FERRY_WAREHOUSE", raising=False)
    monkeypatch.setenv(*postgres.connection("pg"))
    return postgres


def tables_file() -> Path:
    return Path(os.environ["FERRY_INCLUDE"]) / "warehouse" / "tables.yaml"


def loaded_tables():
    from ferry.spec.loader import load_project

    project = load_project(Path(os.environ["FERRY_INCLUDE"]))
    assert project.errors == []
    return project.tables


def test_import_reads_the_postgres_catalogue_into_entries_that_load(pg):
    result = run_ferry("tables", "import", "--connection", "pg", "--schema", "shop")

    assert result.code == 0, result.err
    assert "orders (shop.orders): added" in result.out
    assert "column wait left out: its type interval has no Ferry type" in result.out
    assert "page_views (shop.page_views): added" in result.out
    assert "key: view_id is a guess" in result.out
    orders = loaded_tables()["orders"]
    assert (orders.connection, orders.name, orders.key) == ("pg", "shop.orders", "order_id")
    assert orders.timestamp == "modified_at"
    assert {name: column.type for name, column in orders.columns.items()} == {
        "order_id": "BIGINT", "customer_email": "VARCHAR", "ship_date": "DATE",
        "amount": "DECIMAL(12,2)", "tags": "JSON", "detail": "JSON",
        "modified_at": "TIMESTAMPTZ", "created_at": "TIMESTAMPTZ",
    }  # fmt: skip
    assert [name for name, column in orders.columns.items() if column.pii] == ["customer_email"]
    assert run_ferry("validate").code == 0


def test_a_reimport_keeps_edits_and_comments_adds_new_columns_and_reports_vanished_ones(pg):
    assert run_ferry("tables", "import", "--connection", "pg", "--schema", "shop").code == 0
    text = tables_file().read_text()
    edited = (
        text.replace("  orders:\n", "  # Shop orders: owned by the sales team.\n  sales_orders:\n")
        .replace("    connection: pg\n    name: shop.orders\n",
                 "    description: Orders of the web shop.\n    connection: pg\n"
                 "    name: shop.orders\n")
        .replace("    timestamp: modified_at\n", "    timestamp: created_at  # when sold\n")
        .replace("customer_email: {type: VARCHAR, pii: true}  # pii: proposed by `ferry tables "
                 "import` from the name; review it",
                 "customer_email: {type: VARCHAR}  # a shared mailbox: not personal")
    )  # fmt: skip
    assert edited != text
    tables_file().write_text(edited)
    pg.execute("ALTER TABLE shop.orders ADD COLUMN phone text, DROP COLUMN ship_date")

    result = run_ferry("tables", "import", "--connection", "pg", "--schema", "shop")

    assert result.code == 0, result.err
    assert "sales_orders (shop.orders): updated\n  column phone added (VARCHAR)\n" in result.out
    vanished = next(n for n, line in enumerate(edited.splitlines(), 1) if "ship_date:" in line)
    assert f"  column ship_date (line {vanished}) is no longer in the source: kept" in result.out
    after = tables_file().read_text()
    kept = (
        "  # Shop orders: owned by the sales team.\n  sales_orders:\n",
        "    timestamp: created_at  # when sold\n",
        "customer_email: {type: VARCHAR}  # a shared mailbox: not personal\n",
    )
    assert all(text in after for text in kept)
    orders = loaded_tables()["sales_orders"]
    assert orders.description == "Orders of the web shop."
    assert not orders.columns["customer_email"].pii and orders.columns["phone"].pii
    assert "ship_date" in orders.columns  # reported, not silently removed
    assert "orders" not in loaded_tables()


def test_validate_stays_offline_and_validate_live_names_every_drift(pg):
    assert run_ferry("tables", "import", "--connection", "pg", "--schema", "shop").code == 0
    pg.execute(
        "ALTER TABLE shop.orders DROP COLUMN ship_date, ALTER COLUMN amount TYPE double precision;"
        "DROP TABLE shop.page_views"
    )
    lines = tables_file().read_text().splitlines()

    def line_of(text: str, after: int = 0) -> int:
        return next(n for n, line in enumerate(lines, 1) if n > after and line.startswith(text))

    before = len(pg.log())
    offline = run_ferry("validate")
    assert offline.code == 0
    assert len(pg.log()) == before  # not one statement reached Postgres

    live = run_ferry("validate", "--live")

    assert live.code == 1
    orders = line_of("  orders:")
    drift = [line for line in live.out.splitlines()[1:] if not line.startswith("warning:")]
    assert drift == [
        f"include/warehouse/tables.yaml:{line_of('      ship_date:', orders)} -> "
        "tables.orders.columns.ship_date -> column ship_date is not in shop.orders on "
        "connection pg; remove it, or fix its name",
        f"include/warehouse/tables.yaml:{line_of('      amount:', orders)} -> "
        "tables.orders.columns.amount.type -> declared DECIMAL(12,2), the source has DOUBLE; "
        "`ferry tables import --connection pg --schema shop --tables orders` updates it",
        f"include/warehouse/tables.yaml:{line_of('    name: shop.page_views')} -> "
        "tables.page_views.name -> missing table: connection pg: no table shop.page_views; "
        "create it, or fix name:",
        "live: 3 drift(s), 5 warning(s) in 7 tables on 2 connection(s)",
    ]


def test_types_the_user_chose_survive_a_reimport_and_are_no_drift(pg):
    """VARCHAR over numeric(12,2), an enum and inet: Ferry reads each as text."""
    pg.execute(
        "CREATE TYPE shop.mood AS ENUM ('happy', 'sad');"
        "ALTER TABLE shop.orders ADD COLUMN mood shop.mood, ADD COLUMN origin inet"
    )
    assert run_ferry("tables", "import", "--connection", "pg", "--schema", "shop").code == 0
    text = tables_file().read_text()
    edited = text.replace(
        '      amount: {type: "DECIMAL(12,2)"}\n',
        "      amount: {type: VARCHAR}  # as text, on purpose\n"
        "      mood: {type: VARCHAR}\n      origin: {type: VARCHAR}\n",
    )
    assert edited != text
    tables_file().write_text(edited)

    again = run_ferry("tables", "import", "--connection", "pg", "--schema", "shop")

    assert again.code == 0, again.err
    assert "  column amount: type VARCHAR kept (the source has DECIMAL(12,2))\n" in again.out
    assert "column mood left out" not in again.out  # declared: the user's
    assert tables_file().read_text() == edited
    live = run_ferry("validate", "--live")
    assert live.code == 0, live.out
    assert not [line for line in live.out.splitlines() if "tables.orders.columns" in line]
