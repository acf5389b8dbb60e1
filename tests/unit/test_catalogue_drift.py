"""Drift between a declared table and the live one: each kind named, at its place."""

from __future__ import annotations

from ferry.catalogue_drift import Drift, connection_drift, table_drift
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
        Drift(("tables", "orders", "columns", "geo", "type"),
              "declared VARCHAR, the source's type is geometry, which has no Ferry type"),
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
