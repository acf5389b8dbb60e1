"""What a target is asked to write, what it reports, and the SQL pieces targets share.

Only allow-listed text reaches SQL: the table's name (checked identifiers, quoted), its
columns (tables.yaml identifiers, quoted) and their canonical types.
"""

from __future__ import annotations

from dataclasses import dataclass

from ferry.sql import quote

INCOMING = "ferry_incoming"  # the temporary table the rows are copied into first


@dataclass(frozen=True)
class Write:
    """The table (quoted), the columns loaded (name -> canonical type), the key, the mode."""

    table: str
    columns: dict[str, str]
    key: str | None
    mode: str  # merge | append | overwrite

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
