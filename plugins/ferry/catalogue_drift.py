"""Drift between tables.yaml and the live sources: what `ferry validate --live` names.

A table missing from its source, a declared column missing from the table, a declared
type the live one cannot be read as: each is drift, which fails validation, since exports of
that table would fail or send other values than their definitions say. A key that is not
the table's primary key is a warning: Ferry relies on the key being unique, and only the
primary key promises that. Each drift has the place in tables.yaml it concerns (a loc),
for the line in the message.

A declared type other than the live one is no drift where Ferry reads the live values as
the declared type without loss (it casts every column to its declared type): VARCHAR over
any type (also one with no Ferry type, such as a Postgres enum or inet), a DECIMAL, an
integer or a DOUBLE at least as wide. The import keeps such a type too: people choose them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ferry.catalogue_names import DATABASE, Naming
from ferry.column_types import INTEGER_RANGES, decimal_shape, integer_range
from ferry.sources.base import SourceError, TableShape
from ferry.spec.catalogues import TableSpec

SMALL_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT", "UINTEGER")


def readable_as(live: str | None, declared: str) -> bool:
    """Whether values of the live type (canonical; None: no Ferry type) cast to the declared
    type (canonical) without loss or failure."""
    if declared == "VARCHAR" or live == declared:
        return True
    if live is None:
        return False
    if declared == "DOUBLE":
        return live == "FLOAT" or live in SMALL_INTEGERS
    if declared in INTEGER_RANGES and live in INTEGER_RANGES:
        low, high = integer_range(declared)
        live_low, live_high = integer_range(live)
        return low <= live_low and live_high <= high
    wide = decimal_shape(declared)
    if wide is None:
        return False
    digits = wide[0] - wide[1]
    if live in INTEGER_RANGES:
        return all(len(str(abs(bound))) <= digits for bound in integer_range(live))
    narrow = decimal_shape(live)
    return narrow is not None and wide[1] >= narrow[1] and digits >= narrow[0] - narrow[1]


def import_hint(connection: str, name: str, naming: Naming = DATABASE) -> str:
    """The import that refreshes one entry: its schema or folder (if named) and its table."""
    schema, table = naming.split(name)
    where = f" --schema {schema}" if schema else ""
    return f"`ferry tables import --connection {connection}{where} --tables {table}` updates it"


@dataclass(frozen=True)
class Drift:
    loc: tuple  # the path in tables.yaml: ("tables", id, "columns", name, "type")
    problem: str
    hint: str = ""
    warning: bool = False


def table_drift(
    table_id: str, spec: TableSpec, live: TableShape, naming: Naming = DATABASE
) -> list[Drift]:
    """How the declared table differs from the live one."""
    at = ("tables", table_id)
    name = spec.source_name(table_id)
    hint = import_hint(spec.connection, name, naming)
    drifts = []
    for column, declared in spec.columns.items():
        where = (*at, "columns", column)
        if column not in live.columns:
            problem = f"column {column} is not in {name} on connection {spec.connection}"
            drifts.append(Drift(where, problem, "remove it, or fix its name"))
            continue
        kind = live.columns[column]
        if readable_as(kind, declared.type):
            continue
        if kind is None:
            source_type = live.source_types.get(column, "?")
            problem = f"declared {declared.type}, the source's type is {source_type}"
            drifts.append(Drift((*where, "type"), problem + ", which has no Ferry type"))
        else:
            problem = f"declared {declared.type}, the source has {kind}"
            drifts.append(Drift((*where, "type"), problem, hint))
    if live.key != spec.key:
        primary = f"the primary key is {live.key}" if live.key else "it has no primary key"
        problem = f"key {spec.key} is not the primary key of {name} ({primary})"
        advice = "Ferry relies on the key being unique: make sure it is"
        drifts.append(Drift((*at, "key"), problem, advice, warning=True))
    return drifts


def connection_drift(
    specs: dict[str, TableSpec],
    describe: Callable[[str], TableShape],
    naming: Naming = DATABASE,
) -> list[Drift]:
    """Drift of every table of one connection, described through one snapshot."""
    drifts = []
    for table_id, spec in specs.items():
        name = spec.source_name(table_id)
        try:
            live = describe(name)
        except SourceError as error:
            loc = ("tables", table_id, "name") if spec.name else ("tables", table_id)
            drifts.append(Drift(loc, f"missing table: {error}", "create it, or fix name:"))
            continue
        drifts += table_drift(table_id, spec, live, naming)
    return drifts


def unreachable(connection: str, table_ids: list[str], error: Exception) -> Drift:
    """The connection could not be opened: its tables were not compared."""
    problem = f"connection {connection} could not be read ({', '.join(table_ids)} not compared)"
    return Drift(("tables", table_ids[0], "connection"), f"{problem}: {error}")
