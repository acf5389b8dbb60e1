"""Table names as `ferry tables import` reads them: a database's schema.table, a files
connection's paths (whose dots are file suffixes, not schemas)."""

from __future__ import annotations

import pytest

from ferry.catalogue_names import DATABASE, FILES


@pytest.mark.parametrize(
    ("name", "entry"),
    [
        ("public.Orders", "orders"),
        ("sales.Order-Items", "order_items"),
        ("2024_sales", "t_2024_sales"),
    ],
)
def test_database_entry_ids_are_ferry_identifiers(name, entry):
    assert DATABASE.entry_id(name) == entry


@pytest.mark.parametrize(
    ("name", "entry"),
    [
        ("customers.csv", "customers"),
        ("leads.csv.gz", "leads"),
        ("leads-2026.csv", "leads_2026"),
        ("orders/2026-01.parquet", "t_2026_01"),
        ("events.v2.pq", "events_v2"),
        ("raw/visits.tsv.gz", "visits"),
        ("orders", "orders"),
    ],
)
def test_a_file_entry_id_is_the_stem_of_its_last_part(name, entry):
    assert FILES.entry_id(name) == entry


def test_two_csv_files_get_two_entry_ids():
    assert FILES.entry_id("customers.csv") != FILES.entry_id("leads.csv")


def test_file_paths_are_checked_as_tables_yaml_names_not_as_sql_names():
    assert FILES.problem("leads-2026.csv", "lake") is None
    assert FILES.problem("orders/2026-01.parquet", "lake") is None
    assert "not a table name" in FILES.problem("my leads.csv", "lake")
    assert DATABASE.problem("sales.orders", "pg") is None
    assert "import a view of it" in DATABASE.problem("leads-2026", "pg")


def test_a_file_path_splits_at_its_folder_a_database_name_at_its_schema():
    assert FILES.split("orders/2026-01.parquet") == ("orders", "2026-01.parquet")
    assert FILES.split("customers.csv") == ("", "customers.csv")
    assert DATABASE.split("sales.orders") == ("sales", "orders")
