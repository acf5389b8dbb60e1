"""The catalogues: tables.yaml (the warehouse's tables) and targets.yaml (where segments go)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from ferry.column_types import TEMPORAL_TYPES, base_type, canonical_type
from ferry.spec.base import MAX_ROWS, ByteSize, ConnectionId, Identifier, SegmentType, Spec
from ferry.spec.names import column_name_problem, located_error, refuse_duplicates


class TargetSpec(Spec):
    """A system segments are exported to, and the rules it imposes."""

    name: str
    segment_types: list[SegmentType] = Field(min_length=1)
    required_fields: list[str] = []
    max_rows: int | None = Field(default=None, gt=0, le=MAX_ROWS)
    warn_rows: int | None = Field(default=None, gt=0, le=MAX_ROWS)
    max_bytes: ByteSize | None = None
    warn_bytes: ByteSize | None = None


class TargetsFile(Spec):
    targets: dict[Identifier, TargetSpec]


class ColumnSpec(Spec):
    type: Annotated[str, AfterValidator(canonical_type)]  # only the canonical form is kept
    pii: bool = False


DEFAULT_CONNECTION = "ferry_warehouse"  # the embedded demo DuckDB file unless defined
SOURCE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.*?\[\]/-]{0,254}")


def checked_source_name(name: str) -> str:
    """A table's name in its source: `schema.table` in a database, or a glob of files
    relative to the files connection's folder (`orders/*.parquet`); never a path out of it.

    Not called source_name: pydantic resolves TableSpec's annotations in the class, where
    that name is the method, which it would then call as the validator."""
    parts = name.split("/")
    if not SOURCE_NAME.fullmatch(name) or ".." in parts or "" in parts:
        raise ValueError(
            f"{name!r} is not a table name: use schema.table (letters, digits, _), or for a "
            "files connection a relative path or glob such as orders/*.parquet"
        )
    return name


class TableSpec(Spec):
    description: str = ""
    connection: ConnectionId = DEFAULT_CONNECTION
    name: Annotated[str, AfterValidator(checked_source_name)] | None = None
    key: str
    segment_type: SegmentType | None = None
    timestamp: str | None = None
    columns: dict[str, ColumnSpec] = Field(min_length=1)

    @field_validator("columns", mode="before")
    @classmethod
    def _column_names(cls, columns: Any) -> Any:
        """Names are checked before the columns, so the error names the column's line."""
        if isinstance(columns, dict):
            for name in columns:
                problem = column_name_problem(name)
                if problem:
                    raise located_error((name,), problem, name)
            refuse_duplicates([(name, (name,)) for name in columns], "column")
        return columns

    @model_validator(mode="after")
    def _key_and_timestamp_are_columns(self) -> TableSpec:
        if self.key not in self.columns:
            message = f"key '{self.key}' is not one of the table's columns"
            raise located_error(("key",), message, self.key)
        if self.timestamp is not None:
            column = self.columns.get(self.timestamp)
            if column is None or base_type(column.type) not in TEMPORAL_TYPES:
                message = f"'{self.timestamp}' is not a DATE or TIMESTAMP column of the table"
                raise located_error(("timestamp",), message, self.timestamp)
        return self

    def source_name(self, table_id: str) -> str:
        """The name to read in the source: `name:`, else the entry's id."""
        return self.name or table_id


class TablesFile(Spec):
    tables: dict[Identifier, TableSpec]
