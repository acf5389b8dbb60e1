"""Table names a database source accepts: dotted identifiers, never a path or SQL."""

from __future__ import annotations

import pytest

from ferry.exceptions import kind_of
from ferry.sources.base import SourceError, SourceUnavailable, sql_table_name


@pytest.mark.parametrize("name", ["contact", "crm.contact", "db.crm.contact", "_x.T_1"])
def test_dotted_identifiers_are_table_names(name):
    assert sql_table_name(name, "pg") == name


@pytest.mark.parametrize(
    "name", ["orders/*.parquet", "a.b.c.d", 'x"; DROP TABLE y; --', "1abc", "crm.", ""]
)
def test_anything_else_is_refused_naming_the_connection(name):
    with pytest.raises(SourceError, match=r"connection pg: .* is not a table name"):
        sql_table_name(name, "pg")


def test_a_refusal_is_terminal_and_an_unreachable_source_transient():
    assert kind_of(SourceError("x")) == "terminal"
    assert kind_of(SourceUnavailable("x")) == "transient"
