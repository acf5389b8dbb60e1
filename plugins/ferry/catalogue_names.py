"""What names tell `ferry tables import`: a column's name (personal data? the timestamp?
the key?), and a table's name in its source: a database's `schema.table`, or a files
connection's path (`orders/2026-01.parquet`), whose dots separate no schema.

Both kinds of table name give an entry id (a Ferry identifier from the table part of the
name) and are checked before an import: a database name as Ferry's SQL quotes it, a path as
tables.yaml's `name:` accepts it (relative, no `..`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ferry.column_types import TEMPORAL_TYPES, base_type
from ferry.sources.base import SourceError, sql_table_name
from ferry.spec.catalogues import checked_source_name

# Whole words (of snake_case or camelCase names) that are personal data, and stems that
# are personal data at a word's start or end (birthdate, username, homephone).
PII_WORDS = frozenset({"ip", "ips", "ipv4", "ipv6", "ssn", "ssns", "dob"})
PII_STEMS = ("email", "phone", "name", "birth", "address")
TIMESTAMP_GUESSES = (
    "updated_at", "modified_at", "last_modified", "last_modified_at", "last_updated",
    "last_updated_at", "updated_on", "modified_on", "changed_at", "updated", "modified",
    "created_at", "inserted_at", "created_on", "created",
)  # fmt: skip
MAX_ID = 63
FILE_SUFFIXES = (".csv", ".tsv", ".gz", ".parquet", ".pq")


@dataclass(frozen=True)
class Naming:
    """The names of one connection: files (paths) or a database's (schema.table)."""

    files: bool = False

    def problem(self, name: str, connection: str) -> str | None:
        """Why Ferry cannot read a table of this name (None if it can)."""
        if self.files:
            try:
                checked_source_name(name)
            except ValueError as error:
                return f"{error}: rename the file"
            return None
        try:
            sql_table_name(name, connection)
        except SourceError:
            return "Ferry reads tables named by letters, digits and _: import a view of it"
        return None

    def split(self, name: str) -> tuple[str, str]:
        """(schema or folder, table): ('orders', '2026-01.parquet'), ('sales', 'orders')."""
        schema, _, table = name.rpartition("/" if self.files else ".")
        return schema, table

    def entry_id(self, name: str) -> str:
        """The table part as a Ferry identifier: 'Sales.Order-Items' -> order_items; for
        files the stem of the last part: 'orders/2026-01.csv.gz' -> t_2026_01."""
        table = self.split(name)[1].lower()
        if self.files:
            table = _stem(table)
        text = re.sub(r"[^a-z0-9_]+", "_", table).strip("_") or "table"
        return (text if text[0].isalpha() else f"t_{text}")[:MAX_ID]


def _stem(filename: str) -> str:
    """The name without its data-file suffixes: leads.csv.gz -> leads."""
    while filename.endswith(FILE_SUFFIXES) and "." in filename.strip("."):
        filename = filename.rpartition(".")[0]
    return filename


DATABASE = Naming()
FILES = Naming(files=True)


def _words(column: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", column)
    return [word for word in re.split(r"[^a-z0-9]+", spaced.lower()) if word]


def pii_proposed(column: str) -> bool:
    """Whether the name says personal data: by whole words, so ship_date is not 'ip'."""
    return any(
        word in PII_WORDS or any(word.startswith(s) or word.endswith(s) for s in PII_STEMS)
        for word in _words(column)
    )


def guess_timestamp(columns: dict[str, str]) -> str | None:
    """The column that most likely says when a row last changed (else when it came)."""
    temporal = {
        "_".join(_words(name)): name
        for name, kind in columns.items()
        if base_type(kind) in TEMPORAL_TYPES
    }
    return next((temporal[guess] for guess in TIMESTAMP_GUESSES if guess in temporal), None)


def guess_key(entry: str, columns: dict[str, str]) -> str:
    """A likely key where the source has no primary key: id, <table>_id, else the first."""
    for guess in ("id", f"{entry}_id", f"{entry.removesuffix('s')}_id"):
        if guess in columns:
            return guess
    return next(iter(columns))
