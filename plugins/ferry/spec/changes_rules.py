"""Load-time checks of a changes-only export (changes:): its key, and what it cannot do.

Each problem is (loc, problem, hint) for the export's own file, as ferry.spec.references.
"""

from __future__ import annotations

from ferry.spec import models
from ferry.spec.catalogues import TableSpec
from ferry.spec.columns import output_columns, pii_rule
from ferry.spec.errors import did_you_mean

Problem = tuple[tuple, str, str]


def changes_problems(export: models.ExportSpec, table: TableSpec, name: str) -> list[Problem]:
    """Why the export's changes: cannot run on table `name`, if it cannot."""
    if export.changes is None:
        return []
    if isinstance(export.source, models.ReportSource):
        problem = "changes-only delivery does not apply to a report: its rows are groups"
        return [(("changes",), problem, "remove changes, or export the table itself")]
    problems = _window_problems(export) + _chunk_by_problems(export)
    key = export.changes.key or table.key
    if not key:
        return problems + [(("changes", "key"), "a changes-only export needs a key and table "
                            f"'{name}' declares none", "set changes.key to a column that "
                            "identifies a row")]  # fmt: skip
    if key not in table.columns:
        problem = f"table '{name}' has no column '{key}'"
        return problems + [(("changes", "key"), problem, did_you_mean(key, table.columns))]
    return problems + _sent_key_problems(export, table, key) + _masked_key_problems(export, key)


def _masked_key_problems(export: models.ExportSpec, key: str) -> list[Problem]:
    """A masked key could send two rows under one value (j***@x.com) and join two rows'
    states; a hash or a token keeps one value per key, and the state keeps only that."""
    rule = pii_rule(export.pii.get(key))
    if rule is None or rule.action != "mask":
        return []
    return [(("pii", key), f"the key '{key}' of a changes-only export cannot be masked: two "
             "keys could mask to one value and their changes be mixed up", f"use {key}: hash "
             f"or {key}: tokenize (one value per key), or set changes.key to another "
             "column")]  # fmt: skip


def _window_problems(export: models.ExportSpec) -> list[Problem]:
    if export.filters.window is None:
        return []
    return [(("filters", "window"), "a changes-only export compares every row its filters "
             "choose with the last delivered run; a window moving with each run would send "
             "each row leaving it as removed", "remove filters.window (changes: already sends "
             "only what changed), or remove changes")]  # fmt: skip


def _chunk_by_problems(export: models.ExportSpec) -> list[Problem]:
    if export.format.chunk_by is None:
        return []
    return [
        (
            ("format", "chunk_by"),
            "chunk_by does not apply to a changes-only export: its "
            "files hold the changes in key order",
            "remove format.chunk_by, or remove changes",
        )
    ]


def _sent_key_problems(export: models.ExportSpec, table: TableSpec, key: str) -> list[Problem]:
    """A removed row carries only its key: the export must send the key column."""
    columns, _ = output_columns(export, table)
    if any(column.source == key and not column.derive for column in columns):
        return []
    loc = ("changes", "key") if export.changes.key else ("changes",)
    return [(loc, f"the export does not send its key column '{key}', so a removed row could "
             "not say which row left", f"add {key} to fields (with a pii rule if it is PII), "
             "or set changes.key to a column the export sends")]  # fmt: skip
