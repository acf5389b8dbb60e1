"""Drift between a declared table and the live one: each kind named, at its place."""

from __future__ import annotations

import pytest

from ferry.catalogue_drift import Drift, connection_drift, readable_as, table_drift
from ferry.sources.base import SourceError, TableShape
from ferry.spec.catalogues import TableSpec

ORDERS = TableSpec(
    connection="shop",
    name="public.orders",
    key="order_id",
    columns={
        "order_id": {"type": "BIGINT"},
        "amount": {"type": "DECIMAL(12,2)"},
        "coupon": {"type": "VARCHAR"},
        "geo": {"type": "VARCHAR"},
    },
)


def test_a_table_as_declared_has_no_drift():
    live = TableShape(
        {"order_id": "BIGINT", "amount": "DECIMAL(12,2)", "coupon": "VARCHAR", "geo": "VARCHAR",
         "extra": "DATE"},
        key="order_id",
    )  # fmt: skip
    assert table_drift("orders", ORDERS, live) == []  # an undeclared column is no drift


def test_varchar_over_a_type_without_ferry_type_is_no_drift_another_type_is():
    """Ferry casts each column to its declared type: an enum or inet reads fine as text."""
    spec = TableSpec(
        connection="pg", key="id",
        columns={"id": {"type": "BIGINT"}, "mood": {"type": "VARCHAR"}, "ip": {"type": "INTEGER"}},
    )  # fmt: skip
    live = TableShape(
        {"id": "BIGINT", "mood": None, "ip": None}, key="id",
        source_types={"mood": "USER-DEFINED", "ip": "inet"},
    )  # fmt: skip
    assert table_drift("visits", spec, live) == [
        Drift(("tables", "visits", "columns", "ip", "type"),
              "declared INTEGER, the source's type is inet, which has no Ferry type"),
    ]  # fmt: skip


def test_a_declared_type_the_live_one_reads_as_is_no_drift():
    spec = TableSpec(
        connection="shop", key="id",
        columns={"id": {"type": "BIGINT"}, "amount": {"type": "VARCHAR"},
                 "price": {"type": "DECIMAL(14,3)"}},
    )  # fmt: skip
    live = TableShape({"id": "INTEGER", "amount": "DECIMAL(12,2)", "price": "DECIMAL(12,2)"}, "id")
    assert table_drift("orders", spec, live) == []


@pytest.mark.parametrize(
    ("live", "declared", "readable"),
    [
        ("DECIMAL(12,2)", "VARCHAR", True),
        (None, "VARCHAR", True),
        (None, "BIGINT", False),
        ("DECIMAL(12,2)", "DECIMAL(14,2)", True),
        ("DECIMAL(12,2)", "DECIMAL(12,3)", False),  # one digit fewer before the point
        ("DECIMAL(12,2)", "DECIMAL(12,1)", False),
        ("INTEGER", "BIGINT", True),
        ("BIGINT", "INTEGER", False),
        ("UINTEGER", "BIGINT", True),
        ("BIGINT", "DECIMAL(19,0)", True),
        ("BIGINT", "DECIMAL(18,0)", False),
        ("FLOAT", "DOUBLE", True),
        ("BIGINT", "DOUBLE", False),
        ("DOUBLE", "DECIMAL(38,10)", False),
        ("VARCHAR", "BIGINT", False),
        ("DATE", "DATE", True),
    ],
)
def test_readable_as_allows_only_casts_without_loss(live, declared, readable):
    assert readable_as(live, declared) is readable


def test_each_drift_is_named_at_its_field():
    live = TableShape(
        {"order_id": "BIGINT", "amount": "DOUBLE", "geo": None},
        key=None,
        source_types={"geo": "geometry"},
    )
    drifts = table_drift("orders", ORDERS, live)
    assert drifts == [
        Drift(("tables", "orders", "columns", "amount", "type"),
              "declared DECIMAL(12,2), the source has DOUBLE",
              "`ferry tables import --connection shop --schema public --tables orders` updates it"),
        Drift(("tables", "orders", "columns", "coupon"),
              "column coupon is not in public.orders on connection shop",
              "remove it, or fix its name"),
        Drift(("tables", "orders", "key"),
              "key order_id is not the primary key of public.orders (it has no primary key)",
              "Ferry relies on the key being unique: make sure it is", warning=True),
    ]  # fmt: skip


def test_a_missing_table_is_drift_at_its_name_and_the_others_are_still_compared():
    def describe(name: str) -> TableShape:
        if name == "public.orders":
            raise SourceError("connection shop: no table public.orders")
        return TableShape({"id": "BIGINT"}, key="other")

    other = TableSpec(connection="shop", key="id", columns={"id": {"type": "BIGINT"}})
    drifts = connection_drift({"orders": ORDERS, "other": other}, describe)
    assert drifts[0] == Drift(
        ("tables", "orders", "name"),
        "missing table: connection shop: no table public.orders",
        "create it, or fix name:",
    )
    assert drifts[1].loc == ("tables", "other", "key") and drifts[1].warning
    assert "the primary key is other" in drifts[1].problem


def test_the_import_hint_of_a_file_names_its_folder_and_file():
    from ferry.catalogue_drift import import_hint
    from ferry.catalogue_names import FILES

    assert import_hint("lake", "orders/2026-01.parquet", FILES) == (
        "`ferry tables import --connection lake --schema orders --tables 2026-01.parquet` "
        "updates it"
    )
