"""Merging a source's catalogue into tables.yaml: new entries, the user's edits kept, the
result read back by Ferry's own loader (PyYAML, YAML 1.1) as a user's `ferry validate` would."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ferry.catalogue_import import (
    ImportClash,
    LiveTable,
    guess_timestamp,
    merge,
    pii_proposed,
    tables_of,
)
from ferry.sources.base import TableShape
from ferry.spec.loader import load_project

ORDERS = TableShape(
    {"order_id": "BIGINT", "customer_email": "VARCHAR", "ship_date": "DATE",
     "amount": "DECIMAL(12,2)", "geo": None, "updated_at": "TIMESTAMP"},
    key="order_id", source_types={"geo": "GEOMETRY"},
)  # fmt: skip
EDITED = """\
# Our catalogue: reviewed by data-platform.
tables:
  sales_orders:  # renamed by us
    description: Orders from the shop.
    connection: shop
    name: public.orders
    key: order_id
    segment_type: account
    timestamp: ship_date
    columns:
      order_id: {type: BIGINT}
      customer_email: {type: VARCHAR}  # not personal: a shared mailbox
      amount: {type: "DECIMAL(10,2)"}
      coupon: {type: VARCHAR}

  # Leads come from the web form.
  lead:
    key: lead_id
    columns:
      lead_id: {type: BIGINT}
"""


def round_trip(text: str):
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml, yaml.load(text)


def merged(text: str, connection: str, *tables: LiveTable):
    yaml, data = round_trip(text)
    reports = merge(tables_of(data), connection, list(tables))
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue(), reports


def loaded(tmp_path: Path, text: str):
    """The text as include/warehouse/tables.yaml, read by the real loader."""
    path = tmp_path / "include" / "warehouse" / "tables.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    project = load_project(tmp_path / "include")
    assert project.errors == []
    return project.tables


def test_a_new_table_gets_columns_types_key_timestamp_and_reviewable_pii_marks(tmp_path):
    text, [report] = merged("tables:\n", "shop", LiveTable("public.orders", ORDERS))

    tables = loaded(tmp_path, text)
    orders = tables["orders"]
    assert (orders.connection, orders.name, orders.key) == ("shop", "public.orders", "order_id")
    assert orders.timestamp == "updated_at"
    assert {n: c.type for n, c in orders.columns.items()} == {
        "order_id": "BIGINT", "customer_email": "VARCHAR", "ship_date": "DATE",
        "amount": "DECIMAL(12,2)", "updated_at": "TIMESTAMP",
    }  # fmt: skip
    assert [n for n, c in orders.columns.items() if c.pii] == ["customer_email"]
    assert (
        "      customer_email: {type: VARCHAR, pii: true}  # pii: proposed by `ferry tables "
        "import` from the name; review it\n"
    ) in text
    assert report.action == "added"
    assert any("geo left out: its type GEOMETRY has no Ferry type" in n for n in report.notes)


def test_a_table_without_a_primary_key_gets_a_marked_guess_and_a_note(tmp_path):
    shape = TableShape({"event_id": "BIGINT", "kind": "VARCHAR"}, key=None)
    text, [report] = merged("tables:\n", "shop", LiveTable("events", shape))

    assert loaded(tmp_path, text)["events"].key == "event_id"
    assert "key: event_id  # a guess: the source has no primary key" in text
    assert any("set key: to a column whose values are unique" in n for n in report.notes)


def test_a_reimport_keeps_the_users_edits_and_comments_adds_and_reports(tmp_path):
    text, [report] = merged(EDITED, "shop", LiveTable("public.orders", ORDERS))

    assert text.startswith(EDITED.split("      order_id")[0])  # header, ids, fields, comments
    assert "customer_email: {type: VARCHAR}  # not personal: a shared mailbox\n" in text
    assert "\n\n  # Leads come from the web form.\n  lead:\n" in text
    orders = loaded(tmp_path, text)["sales_orders"]
    assert (orders.key, orders.timestamp, orders.segment_type) == (
        "order_id",
        "ship_date",
        "account",
    )
    assert orders.description == "Orders from the shop."
    assert list(orders.columns) == [
        "order_id",
        "customer_email",
        "ship_date",
        "amount",
        "updated_at",
        "coupon",
    ]  # new columns beside their neighbours in the source; coupon kept
    assert not orders.columns["customer_email"].pii  # the user's decision stands
    assert orders.columns["amount"].type == "DECIMAL(12,2)"
    assert report.action == "updated"
    assert "column amount: type DECIMAL(10,2) -> DECIMAL(12,2) (as the source has it now)" in (
        report.changes
    )
    assert any(
        n.startswith("column coupon (line 14) is no longer in the source") for n in report.notes
    )


def test_a_reimport_of_an_unchanged_table_changes_nothing():
    once, _ = merged("tables:\n", "shop", LiveTable("orders", ORDERS))
    twice, [report] = merged(once, "shop", LiveTable("orders", ORDERS))
    assert twice == once
    assert report.action == "unchanged"


def test_a_new_last_column_goes_before_the_comment_that_heads_the_next_entry():
    text = (
        "tables:\n  orders:\n    key: order_id\n    columns:\n"
        "      order_id: {type: BIGINT}  # the key\n\n  # The next one.\n  other:\n"
        "    key: id\n    columns:\n      id: {type: BIGINT}\n"
    )
    shape = TableShape({"order_id": "BIGINT", "phone": "VARCHAR"}, key="order_id")
    result, _ = merged(text, "ferry_warehouse", LiveTable("orders", shape))
    assert (
        "      order_id: {type: BIGINT}  # the key\n      phone: {type: VARCHAR, pii: true}  # "
        "pii: proposed by `ferry tables import` from the name; review it\n\n  # The next one.\n"
    ) in result


def test_an_id_another_connection_has_is_an_error_naming_both():
    _, data = round_trip(EDITED)
    shape = TableShape({"lead_id": "BIGINT"}, key="lead_id")
    with pytest.raises(ImportClash) as clash:
        merge(data["tables"], "crm", [LiveTable("public.lead", shape)])
    message = str(clash.value)
    assert "table public.lead of connection crm would be entry 'lead'" in message
    assert "(line 17) already has for table lead of connection ferry_warehouse" in message


def test_two_tables_with_one_id_is_an_error_before_anything_changes():
    _, data = round_trip("tables:\n")
    shape = TableShape({"id": "BIGINT"}, key="id")
    with pytest.raises(ImportClash, match="tables Orders and orders of connection pg"):
        merge(tables_of(data), "pg", [LiveTable("Orders", shape), LiveTable("orders", shape)])
    assert data["tables"] == {}


def test_names_yaml_11_reads_as_something_else_are_quoted(tmp_path):
    shape = TableShape({"id": "BIGINT", "on": "BOOLEAN", "null": "VARCHAR"}, key="id")
    text, _ = merged("tables:\n", "shop", LiveTable("yes", shape))
    tables = loaded(tmp_path, text)
    assert list(tables["yes"].columns) == ["id", "on", "null"]


def test_columns_ferry_cannot_name_are_left_out_with_the_reason():
    shape = TableShape({"id": "BIGINT", "Id": "BIGINT", "order date": "DATE"}, key="id")
    text, [report] = merged("tables:\n", "shop", LiveTable("t", shape))
    assert "Id:" not in text and "order date" not in text
    assert any("column Id left out: another column differs only in case" in n for n in report.notes)
    assert any("'order date' is not a valid column name" in n for n in report.notes)


@pytest.mark.parametrize(
    ("column", "proposed"),
    [("email", True), ("customer_email", True), ("firstName", True), ("last_name", True),
     ("birthdate", True), ("home_address", True), ("ssn", True), ("ip", True),
     ("client_ip", True), ("phone_number", True), ("ship_date", False), ("zip", False),
     ("description", False), ("tip_amount", False), ("amount", False)],
)  # fmt: skip
def test_pii_is_proposed_by_whole_words_of_the_name(column, proposed):
    assert pii_proposed(column) is proposed


def test_the_timestamp_guess_prefers_a_last_change_to_a_creation_and_needs_a_time():
    assert guess_timestamp({"created_at": "TIMESTAMP", "modifiedAt": "TIMESTAMPTZ"}) == "modifiedAt"
    assert guess_timestamp({"created_at": "DATE", "updated_at": "VARCHAR"}) == "created_at"
    assert guess_timestamp({"id": "BIGINT"}) is None


def test_a_reimport_keeps_a_type_the_user_chose_that_the_live_one_reads_as(tmp_path):
    """VARCHAR over DECIMAL(12,2) and a wider DECIMAL are choices: kept, and said."""
    text = (
        "tables:\n  orders:\n    connection: shop\n    key: order_id\n    columns:\n"
        '      order_id: {type: "DECIMAL(20,0)"}\n'
        "      amount: {type: VARCHAR}  # as text, on purpose\n"
    )
    shape = TableShape({"order_id": "BIGINT", "amount": "DECIMAL(12,2)"}, key="order_id")

    merged_text, [report] = merged(text, "shop", LiveTable("orders", shape))

    assert merged_text == text
    assert report.action == "unchanged"
    assert report.notes == [
        "column order_id: type DECIMAL(20,0) kept (the source has BIGINT)",
        "column amount: type VARCHAR kept (the source has DECIMAL(12,2))",
    ]
    assert loaded(tmp_path, merged_text)["orders"].columns["amount"].type == "VARCHAR"
