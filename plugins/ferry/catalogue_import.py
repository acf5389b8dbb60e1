"""Merge a source's catalogue into tables.yaml, keeping what people wrote there.

`ferry tables import` describes a connection's tables and hands them here with the
round-trip data of tables.yaml (ruamel's CommentedMap, comments attached). A table new
to tables.yaml gets an entry: its columns (those with a Ferry type), its key (the primary
key), a timestamp guess and `pii: true` proposed, with a comment, for columns whose names
say they hold personal data. An entry already there is the user's: its description,
segment type, key, timestamp, pii marks and comments stay; new columns are added, and
columns gone from the source only reported, since exports may use them. A declared type
stays where Ferry reads the live type as it (VARCHAR over a DECIMAL: the user chose it;
catalogue_drift.readable_as); one it cannot read as is replaced by the live type.

An entry is matched by its connection and its name in the source, so a renamed entry id
is kept. A new entry's id is the table's name as a Ferry identifier; when another entry
has that id, nothing is written and the error names both.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass, field

import yaml
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from ferry.catalogue_drift import readable_as
from ferry.catalogue_names import DATABASE, Naming, guess_key, guess_timestamp, pii_proposed
from ferry.column_types import UnknownColumnType, canonical_type
from ferry.exceptions import Terminal
from ferry.sources.base import TableShape
from ferry.spec.catalogues import DEFAULT_CONNECTION
from ferry.spec.names import column_name_problem

PII_COMMENT = "pii: proposed by `ferry tables import` from the name; review it"
KEY_COMMENT = "a guess: the source has no primary key of one column; check it is unique"


class ImportClash(Terminal):
    """A table would take an entry id tables.yaml already gives another table."""


@dataclass(frozen=True)
class LiveTable:
    """A table as the source describes it: its name there (table or schema.table)."""

    name: str
    shape: TableShape


@dataclass
class TableReport:
    """What the import did to one entry, for the person who ran it."""

    entry: str
    name: str
    action: str  # added | updated | unchanged | left out
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        title = self.entry if self.entry == self.name else f"{self.entry} ({self.name})"
        return [f"{title}: {self.action}"] + [f"  {line}" for line in self.changes + self.notes]


def importable_columns(
    shape: TableShape, declared: Container[str] = ()
) -> tuple[dict[str, str], list[str]]:
    """(name -> Ferry type of the columns tables.yaml can hold, a note per one left out);
    a declared column without a Ferry type is the user's (VARCHAR over an enum): no note."""
    columns: dict[str, str] = {}
    notes, seen = [], set()
    for name, kind in shape.columns.items():
        problem = column_name_problem(name)
        if problem:
            notes.append(f"column {name!r} left out: {problem}")
        elif name.lower() in seen:
            notes.append(f"column {name} left out: another column differs only in case")
        elif kind is None and name in declared:
            pass
        elif kind is None:
            source_type = shape.source_types.get(name, "?")
            notes.append(
                f"column {name} left out: its type {source_type} has no Ferry type; to "
                "export it, cast it in a view to one Ferry reads (e.g. VARCHAR) and import that"
            )
        else:
            columns[name] = kind
        seen.add(name.lower())
    return columns, notes


def tables_of(data: object) -> CommentedMap:
    """The `tables:` mapping of tables.yaml's round-trip data, made if empty (in block style).

    Raises:
        ImportClash: the file holds something else than a mapping of tables.
    """
    if data is not None and not isinstance(data, CommentedMap):
        raise ImportClash("tables.yaml is not a mapping with `tables:`; fix it first")
    tables = data.get("tables") if data else None
    if tables is not None and not isinstance(tables, CommentedMap):
        raise ImportClash("`tables:` in tables.yaml is not a mapping of tables; fix it first")
    if not tables:  # None, or `{}` whose flow style would hold every new entry on one line
        tables = CommentedMap()
        data["tables"] = tables
    return tables


def merge(
    tables: CommentedMap, connection: str, live: list[LiveTable], naming: Naming = DATABASE
) -> list[TableReport]:
    """Add or update the entries of `tables` (tables.yaml's `tables:`) from the live tables.

    Raises:
        ImportClash: a table's entry id is taken by another table; nothing was changed.
    """
    matched = _match(tables, connection, live, naming)
    reports = []
    for entry, table, existing in matched:
        if existing:
            reports.append(_update(tables, entry, table))
        else:
            reports.append(_add(tables, entry, connection, table))
    return reports


def _match(
    tables: CommentedMap, connection: str, live: list[LiveTable], naming: Naming
) -> list[tuple[str, LiveTable, bool]]:
    """(entry id, table, whether the entry exists) per table; every clash checked first."""
    by_source = {
        (_connection_of(raw), raw.get("name") or str(entry)): str(entry)
        for entry, raw in tables.items()
        if isinstance(raw, dict)
    }
    taken: dict[str, str] = {}
    matched = []
    for table in live:
        entry = by_source.get((connection, table.name))
        existing = entry is not None
        if entry is None:
            entry = naming.entry_id(table.name)
            if entry in tables:
                raise ImportClash(_clash(tables, entry, connection, table.name))
        if entry in taken:
            raise ImportClash(
                f"tables {taken[entry]} and {table.name} of connection {connection} would both "
                f"be entry '{entry}': import one of them with --tables, then rename its entry"
            )
        taken[entry] = table.name
        matched.append((entry, table, existing))
    return matched


def _connection_of(raw: dict) -> str:
    return str(raw.get("connection") or DEFAULT_CONNECTION)


def _clash(tables: CommentedMap, entry: str, connection: str, name: str) -> str:
    raw = tables[entry]
    held = (
        f"table {raw.get('name') or entry} of connection {_connection_of(raw)}"
        if isinstance(raw, dict)
        else "a value that is not a table"
    )
    return (
        f"table {name} of connection {connection} would be entry '{entry}', which "
        f"tables.yaml (line {tables.lc.key(entry)[0] + 1}) already has for {held}: rename "
        "that entry (exports name tables by entry id; set its name: if it is the same "
        "table), or leave this table out with --tables"
    )


# A new entry


def _add(tables: CommentedMap, entry: str, connection: str, table: LiveTable) -> TableReport:
    columns, notes = importable_columns(table.shape)
    if not columns:
        note = "none of its columns has a Ferry type, and an entry needs one"
        return TableReport(entry, table.name, "left out", notes=[*notes, note])
    raw = CommentedMap()
    raw["connection"] = connection
    if table.name != entry:
        raw["name"] = table.name
    key = table.shape.key if table.shape.key in columns else None
    raw["key"] = key or guess_key(entry, columns)
    if key is None:
        raw.yaml_add_eol_comment(f"# {KEY_COMMENT}", "key", column=_width("key", raw["key"], 2))
        notes.append(
            f"key: {raw['key']} is a guess (the source has no primary key of one column): "
            "set key: to a column whose values are unique"
        )
    timestamp = guess_timestamp(columns)
    if timestamp:
        raw["timestamp"] = timestamp
    raw["columns"] = listed = CommentedMap()
    proposed = [name for name, kind in columns.items() if _add_column(listed, name, kind)]
    _place(tables, len(tables), _yaml_key(entry), raw)
    summary = f"{len(columns)} columns, key {raw['key']}, timestamp {timestamp or '(none found)'}"
    changes = [summary] + _proposed_line(proposed)
    return TableReport(entry, table.name, "added", changes, notes)


def _proposed_line(proposed: list[str]) -> list[str]:
    if not proposed:
        return []
    return [f"pii: true proposed for {', '.join(proposed)} (marked in tables.yaml: review)"]


def _add_column(columns: CommentedMap, name: str, kind: str, position: int | None = None) -> bool:
    """Put a column in an entry's columns at position (default last); True if marked pii."""
    value = CommentedMap()
    value["type"] = _type_scalar(kind)
    pii = pii_proposed(name)
    if pii:
        value["pii"] = True
    value.fa.set_flow_style()
    key = _yaml_key(name)
    comment = None
    if pii:
        flow = f"{{type: {_flow_text(value['type'])}, pii: true}}"
        comment = (f"# {PII_COMMENT}", _width(key, flow, 3))
    _place(columns, len(columns) if position is None else position, key, value, comment)
    return pii


def _type_scalar(kind: str) -> str:
    """DECIMAL(12,2) quoted: its comma would end the value in a flow mapping."""
    return kind if re.fullmatch(r"[A-Z]+", kind) else DoubleQuotedScalarString(kind)


def _flow_text(value: str) -> str:
    return f'"{value}"' if isinstance(value, DoubleQuotedScalarString) else value


def _width(key: str, value_text: str, depth: int) -> int:
    """Where a comment after `key: value` starts, two spaces after it (the usual style)."""
    key_text = f'"{key}"' if isinstance(key, DoubleQuotedScalarString) else key
    return 2 * depth + len(key_text) + 2 + len(value_text) + 2


def _yaml_key(name: str) -> str:
    """The name quoted where the loader's YAML 1.1 would read it as something else (on, no)."""
    return name if yaml.safe_load(name) == name else DoubleQuotedScalarString(name)


# An existing entry


def _update(tables: CommentedMap, entry: str, table: LiveTable) -> TableReport:
    raw = tables[entry]
    listed = raw.get("columns")
    if not isinstance(listed, CommentedMap):
        listed = CommentedMap()
        raw["columns"] = listed
    columns, notes = importable_columns(table.shape, listed)
    changes, kept = _update_columns(listed, columns)
    notes += kept
    if "key" not in raw and table.shape.key in columns:
        raw["key"] = table.shape.key
        changes.append(f"key: {table.shape.key} (the primary key)")
    for name in listed:
        if name not in table.shape.columns:
            notes.append(
                f"column {name} (line {listed.lc.key(name)[0] + 1}) is no longer in the "
                "source: kept; if it is gone for good, delete its line (`ferry validate` "
                "then names the exports that use it)"
            )
    return TableReport(entry, table.name, "updated" if changes else "unchanged", changes, notes)


def _update_columns(listed: CommentedMap, columns: dict[str, str]) -> tuple[list, list]:
    """(changes, notes): new columns added after their neighbour in the source; a declared
    type the live one cannot be read as updated (one it can is the user's choice: kept)."""
    changes, proposed, notes = [], [], []
    order = list(columns)
    for index, (name, kind) in enumerate(columns.items()):
        declared = listed.get(name)
        if name not in listed:
            before = [n for n in order[:index] if n in listed]
            position = list(listed).index(before[-1]) + 1 if before else 0
            if _add_column(listed, name, kind, position):
                proposed.append(name)
            changes.append(f"column {name} added ({kind})")
        elif isinstance(declared, dict):
            wanted = _canonical(declared.get("type"))
            if wanted is not None and wanted != kind and readable_as(kind, wanted):
                notes.append(f"column {name}: type {wanted} kept (the source has {kind})")
            elif wanted != kind:
                old, declared["type"] = declared.get("type"), _type_scalar(kind)
                changes.append(f"column {name}: type {old} -> {kind} (as the source has it now)")
    return changes + _proposed_line(proposed), notes


def _canonical(declared: object) -> str | None:
    try:
        return canonical_type(declared) if isinstance(declared, str) else None
    except UnknownColumnType:
        return None


# Comments after a mapping's last value stay after it


def _place(
    mapping: CommentedMap,
    position: int,
    key: str,
    value: object,
    comment: tuple[str, int] | None = None,
) -> None:
    """Insert key: value (with an end-of-line comment at a column); at the end, the comment
    lines that followed the old last value (ruamel keeps them on it: often the next
    entry's heading) move after the new one."""
    trailing = _take_trailing(mapping) if position >= len(mapping) else None
    mapping.insert(position, key, value)
    if comment:
        mapping.yaml_add_eol_comment(comment[0], key, column=comment[1])
    if trailing:
        _give_trailing(mapping, trailing)


def _last_leaf(mapping: CommentedMap) -> tuple[CommentedMap | None, object]:
    """The block mapping and key of the last value written under mapping."""
    node: CommentedMap = mapping
    while node:
        last = list(node)[-1]
        child = node[last]
        if isinstance(child, CommentedMap) and child and not child.fa.flow_style():
            node = child
            continue
        return node, last
    return None, None


def _take_trailing(mapping: CommentedMap) -> str | None:
    holder, key = _last_leaf(mapping)
    item = holder.ca.items.get(key) if holder is not None else None
    token = item[2] if item and len(item) > 2 else None
    if token is None:
        return None
    own, _, rest = token.value.partition("\n")
    if not rest.strip():
        return None
    if own.strip():
        token.value = own + "\n"
    else:
        item[2] = None
    return rest


def _give_trailing(mapping: CommentedMap, trailing: str) -> None:
    holder, key = _last_leaf(mapping)
    item = holder.ca.items.setdefault(key, [None, None, None, None])
    if item[2] is not None:
        item[2].value = item[2].value.rstrip("\n") + "\n" + trailing
    else:
        item[2] = CommentToken("\n" + trailing, CommentMark(0), None)
