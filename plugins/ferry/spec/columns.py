"""An export's output columns: the one answer to "which columns do the files have".

The loader checks expectations against it, the plan selects it and validation finds an
expectation's column in it, so `ferry validate` refuses exactly what a run would.
"""

from __future__ import annotations

from dataclasses import dataclass

from ferry.spec.catalogues import TableSpec
from ferry.spec.models import ExportSpec, FieldChoice, PiiRule
from ferry.spec.report import ReportSource, report_columns


@dataclass(frozen=True)
class OutputColumn:
    """A warehouse column as it leaves: its output name and its PII handling."""

    source: str
    name: str
    type: str
    pii: PiiRule | None = None  # None: sent as it is (no rule, or keep)
    derive: str | None = None  # e.g. email_domain: a safe part of a PII value

    @property
    def keyed(self) -> bool:
        """Whether writing it needs the ferry_pii key (hashed or tokenized)."""
        return self.pii is not None and self.pii.keyed


def output_columns(
    export: ExportSpec, table: TableSpec
) -> tuple[tuple[OutputColumn, ...], tuple[str, ...]]:
    """(the columns the files have, in order; the source fields left out as PII).

    A chosen field leaves renamed, derived or with its PII rule; a PII field whose rule is
    exclude, or that has no rule at all (nobody decided), stays out. Fields the table
    lacks are skipped: the loader reports those, and a loaded export has none. A report's
    columns are its groups and metrics (the report's subquery names them so).
    """
    if isinstance(export.source, ReportSource):
        columns = report_columns(export.source, table.columns)
        return tuple(OutputColumn(name, name, column_type) for name, column_type in columns), ()
    columns, excluded = [], []
    for choice in _chosen_fields(export, table):
        source = choice.field
        if source not in table.columns:
            continue
        column_type = table.columns[source].type
        if choice.derive:
            columns.append(
                OutputColumn(source, choice.output_name, column_type, derive=choice.derive)
            )
            continue
        rule = pii_rule(export.pii.get(source))
        if (rule is None and table.columns[source].pii) or (rule and rule.action == "exclude"):
            excluded.append(source)
            continue
        kept = rule is None or rule.action == "keep"
        columns.append(
            OutputColumn(source, choice.output_name, column_type, None if kept else rule)
        )
    return tuple(columns), tuple(excluded)


def column_for(columns: tuple[OutputColumn, ...], field: str) -> OutputColumn | None:
    """The column an expectation's field names: by output name, else by the source field
    of a renamed column (a derived column is only its output: email_domain, not email)."""
    by_name = next((column for column in columns if column.name == field), None)
    if by_name is not None:
        return by_name
    return next((c for c in columns if c.source == field and not c.derive), None)


def pii_rule(value: str | PiiRule | None) -> PiiRule | None:
    """An export's pii entry as a rule: `email: hash` is {action: hash}."""
    if value is None or isinstance(value, PiiRule):
        return value
    return PiiRule(action=value)


def _chosen_fields(export: ExportSpec, table: TableSpec) -> list[FieldChoice]:
    if export.fields == "all":
        return [FieldChoice(field=name) for name in table.columns]
    return [
        FieldChoice(field=choice) if isinstance(choice, str) else choice for choice in export.fields
    ]
