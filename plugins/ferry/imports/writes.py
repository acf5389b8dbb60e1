"""What a target is asked to write, what it reports, and the SQL pieces targets share.

Only allow-listed text reaches SQL: the table's name (checked identifiers, quoted), its
columns (tables.yaml identifiers, quoted) and their canonical types.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ferry.sql import quote

# The temporary table the rows are copied into first. Unqualified, a temporary name comes
# first (DuckDB's temp catalogue, Postgres' pg_temp): a user table of the same name would be
# shadowed, its load refused or, on Postgres, written into the temporary table and lost.
# Ferry's reserved prefix and a fresh suffix per load keep it from naming a user table.
INCOMING_PREFIX = "__ferry_incoming_"


def incoming_name() -> str:
    """A name for one load's temporary table, no table's in the warehouse."""
    return f"{INCOMING_PREFIX}{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Write:
    """The table (quoted), the columns loaded (name -> canonical type), the key, the mode,
    and the name of the temporary table the rows arrive in (a plain identifier)."""

    table: str
    columns: dict[str, str]
    key: str | None
    mode: str  # merge | append | overwrite
    incoming: str = field(default_factory=incoming_name)

    @property
    def names(self) -> str:
        return ", ".join(map(quote, self.columns))

    def merge_set(self, source: str) -> str:
        """SET items of a merge: every loaded column but the key, from `source`."""
        others = [c for c in self.columns if c != self.key] or [self.key]
        return ", ".join(f"{quote(c)} = {source}.{quote(c)}" for c in others)


@dataclass(frozen=True)
class Written:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
