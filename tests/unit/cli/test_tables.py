"""`ferry tables import` and `ferry validate --live` against a real DuckDB file, as a user
runs them: the file written is read back by `ferry validate`, drift lines name file:line."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from cli_runner import run_ferry
from include_copy import copy_include

SHOP = """
CREATE TABLE orders (order_id BIGINT PRIMARY KEY, customer_email VARCHAR, ship_date DATE,
    amount DECIMAL(12,2), shape STRUCT(a INTEGER), updated_at TIMESTAMP);
CREATE TABLE visits (visit_id BIGINT, client_ip VARCHAR, created_at TIMESTAMPTZ);
"""


@pytest.fixture
def shop(tmp_path: Path, monkeypatch, warehouse) -> Path:
    """A copy of include/, the demo warehouse as ferry_warehouse, and a DuckDB file `shop`."""
    include = copy_include(tmp_path)
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    monkeypatch.setenv("FERRY_WAREHOUSE", str(warehouse))
    monkeypatch.delenv("AIRFLOW_CONN_FERRY_WAREHOUSE", raising=False)
    database = tmp_path / "shop.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(SHOP)
    connection = {"conn_type": "duckdb", "host": str(database)}
    monkeypatch.setenv("AIRFLOW_CONN_SHOP", json.dumps(connection))
    return database


def tables_file() -> Path:
    import os

    return Path(os.environ["FERRY_INCLUDE"]) / "warehouse" / "tables.yaml"


def test_import_adds_entries_that_load_and_keeps_the_rest_of_the_file(shop):
    before = tables_file().read_text()

    result = run_ferry("tables", "import", "--connection", "shop")

    assert result.code == 0, result.err
    assert result.out.splitlines()[:3] == [
        "orders: added",
        "  5 columns, key order_id, timestamp updated_at",
        "  pii: true proposed for customer_email (marked in tables.yaml: review)",
    ]
    assert "  column shape left out: its type STRUCT(a INTEGER) has no Ferry type" in result.out
    assert "visits: added" in result.out and "key: visit_id is a guess" in result.out
    after = tables_file().read_text()
    assert after.startswith(before)  # the demo's entries and comments, byte for byte
    assert "    connection: shop\n    key: order_id\n    timestamp: updated_at\n" in after
    validated = run_ferry("validate")
    assert validated.code == 0 and "7 tables" in validated.out


def test_a_dry_run_says_what_it_would_do_and_writes_nothing(shop):
    before = tables_file().read_text()
    result = run_ferry("tables", "import", "--connection", "shop", "--tables=orders", "--dry-run")
    assert result.code == 0
    assert result.out.startswith("orders: added\n") and "visits" not in result.out
    assert "dry run:" in result.out
    assert tables_file().read_text() == before


def test_an_unknown_table_is_an_error_listing_the_tables_there(shop):
    result = run_ferry("tables", "import", "--connection", "shop", "--tables", "order")
    assert result.code == 2
    assert result.err == (
        "ferry tables import: connection shop has no table order in its default schema; "
        "its tables there: orders, visits\n"
    )


def test_a_table_whose_id_another_connection_has_is_refused_naming_both(shop):
    with duckdb.connect(str(shop)) as con:
        con.execute("CREATE TABLE lead (lead_id BIGINT PRIMARY KEY)")
    before = tables_file().read_text()
    result = run_ferry("tables", "import", "--connection", "shop")
    assert result.code == 2
    assert "table lead of connection shop would be entry 'lead'" in result.err
    assert "already has for table lead of connection ferry_warehouse" in result.err
    assert result.err.endswith("nothing was written\n")
    assert tables_file().read_text() == before


def test_validate_opens_no_source_and_validate_live_opens_each(shop, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    with tables_file().open("a") as stream:
        stream.write(
            "  remote_orders:\n    connection: nowhere\n    key: id\n"
            "    columns:\n      id: {type: BIGINT}\n"
        )
    offline = run_ferry("validate")
    assert offline.code == 0, offline.out  # `nowhere` is not defined: nothing asked for it

    live = run_ferry("validate", "--live")
    assert live.code == 1
    line = next(n for n, text in enumerate(tables_file().read_text().splitlines(), 1)
                if text == "    connection: nowhere")  # fmt: skip
    assert (
        f"include/warehouse/tables.yaml:{line} -> tables.remote_orders.connection -> connection "
        "nowhere could not be read (remote_orders not compared): connection nowhere (named in "
        "tables.yaml) is not defined"
    ) in live.out
    assert live.out.splitlines()[-1].startswith("live: 1 drift(s), ")


def test_validate_live_of_the_demo_finds_no_drift_only_keys_that_are_no_primary_key(shop):
    result = run_ferry("validate", "--live")
    assert result.code == 0, result.out
    *lines, last = result.out.splitlines()[1:]
    assert last == "live: OK: 5 tables on 1 connection(s) match their sources, 5 warning(s)"
    assert len(lines) == 5
    assert all(" is not the primary key of " in line for line in lines)
    assert lines[0].startswith(
        "warning: include/warehouse/tables.yaml:8 -> tables.customer_profile.key -> key "
        "profile_id is not the primary key of customer_profile (it has no primary key)"
    )


def test_validate_live_names_each_drift_at_its_line_and_fails(shop):
    assert run_ferry("tables", "import", "--connection", "shop").code == 0
    with duckdb.connect(str(shop)) as con:
        con.execute("ALTER TABLE orders DROP COLUMN ship_date")
        con.execute("ALTER TABLE orders ALTER amount TYPE DOUBLE")
        con.execute("DROP TABLE visits")
    lines = tables_file().read_text().splitlines()

    def line_of(text: str, after: int = 0) -> int:
        return next(n for n, found in enumerate(lines, 1) if n > after and found.startswith(text))

    orders = line_of("  orders:")
    result = run_ferry("validate", "--live")

    assert result.code == 1
    drift = [line for line in result.out.splitlines() if not line.startswith("warning:")][1:]
    assert drift == [
        f"include/warehouse/tables.yaml:{line_of('      ship_date:', orders)} -> "
        "tables.orders.columns.ship_date -> column ship_date is not in orders on connection "
        "shop; remove it, or fix its name",
        f"include/warehouse/tables.yaml:{line_of('      amount:', orders)} -> "
        "tables.orders.columns.amount.type -> declared DECIMAL(12,2), the source has DOUBLE; "
        "`ferry tables import --connection shop --tables orders` updates it",
        f"include/warehouse/tables.yaml:{line_of('  visits:') + 1} -> tables.visits -> missing "
        "table: connection shop: no table visits; create it, or fix name:",
        "live: 3 drift(s), 5 warning(s) in 7 tables on 2 connection(s)",
    ]


def test_an_import_that_would_break_an_entry_writes_nothing_and_says_why(shop):
    assert run_ferry("tables", "import", "--connection", "shop", "--tables", "orders").code == 0
    with duckdb.connect(str(shop)) as con:
        con.execute("ALTER TABLE orders ALTER updated_at TYPE VARCHAR")
    before = tables_file().read_text()

    result = run_ferry("tables", "import", "--connection", "shop", "--tables", "orders")

    assert result.code == 2
    first, second = result.err.splitlines()
    assert first == (
        "ferry tables import: the import would break entries of tables.yaml, nothing was "
        "written; fix them first (or the source):"
    )
    assert second.endswith(
        "-> tables.orders.timestamp -> 'updated_at' is not a DATE or TIMESTAMP column of the table"
    )
    assert tables_file().read_text() == before


def test_an_include_without_tables_yaml_gets_one(shop, tmp_path, monkeypatch):
    (tmp_path / "new" / "include").mkdir(parents=True)
    monkeypatch.setenv("FERRY_INCLUDE", str(tmp_path / "new" / "include"))

    result = run_ferry("tables", "import", "--connection", "shop")

    assert result.code == 0, result.err
    assert tables_file().read_text().startswith("tables:\n  orders:\n    connection: shop\n")
    assert run_ferry("validate").code == 0


@pytest.fixture
def lake(shop, tmp_path: Path, monkeypatch) -> Path:
    """A folder of Parquet and CSV files as the `fs` connection lake."""
    folder = tmp_path / "lake"
    (folder / "orders").mkdir(parents=True)
    for month in ("2026-01", "2026-02"):
        duckdb.sql(
            f"COPY (SELECT 1 AS order_id, 12.5::DECIMAL(12,2) AS amount) "
            f"TO '{folder / 'orders' / month}.parquet' (FORMAT parquet)"
        )
    duckdb.sql(f"COPY (SELECT 7 AS lead_id, 'web' AS origin) TO '{folder}/leads-2026.csv'")
    duckdb.sql(
        "COPY (SELECT * FROM (VALUES (1, 'Ann'), (2, 'Bo')) t(id, nickname)) "
        f"TO '{folder}/customers.csv'"
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKE", json.dumps({"conn_type": "fs", "extra": {"path": str(folder)}})
    )
    return folder


def test_import_of_a_files_connection_names_entries_by_file_stem_and_exports_run(lake):
    result = run_ferry("tables", "import", "--connection", "lake")

    assert result.code == 0, result.err
    assert "left out" not in result.out
    assert "customers (customers.csv): added" in result.out
    assert "leads_2026 (leads-2026.csv): added" in result.out
    assert "orders: added" in result.out
    in_folder = run_ferry("tables", "import", "--connection", "lake", "--schema", "orders")
    assert in_folder.code == 0, in_folder.err
    assert "t_2026_01 (orders/2026-01.parquet): added" in in_folder.out
    assert "t_2026_02 (orders/2026-02.parquet): added" in in_folder.out
    again = run_ferry("tables", "import", "--connection", "lake", "--tables", "customers.csv")
    assert again.code == 0 and "customers (customers.csv): unchanged" in again.out
    assert run_ferry("validate").code == 0
    live = run_ferry("validate", "--live")
    assert live.code == 0, live.out
    assert "live: OK" in live.out
    export = tables_file().parent.parent / "exports" / "lake_customers.yaml"
    export.write_text(
        "id: lake_customers\nname: Lake customers\nowner: data-platform\nkind: data_out\n"
        "source: {table: customers}\nfields: all\npii: {nickname: keep}\n"
        "format: {type: csv}\ndestinations:\n  - {type: download}\nschedule: refresh\n"
    )
    run = run_ferry("run", "lake_customers", "--local")
    assert run.code == 0, run.out + run.err
    assert [line.split()[:2] for line in run.out.splitlines()[1:2]] == [["rows", "2"]]
