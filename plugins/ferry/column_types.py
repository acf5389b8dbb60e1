"""What Ferry needs to know of DuckDB column types, in one place: no DuckDB import."""

from __future__ import annotations

INTEGER_TYPES = (
    "TINYINT", "SMALLINT", "INTEGER", "INT", "INT4", "INT8", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
)  # fmt: skip
FLOAT_TYPES = ("FLOAT", "REAL", "DOUBLE")
DECIMAL_TYPES = ("DECIMAL", "NUMERIC")


def base_type(column_type: str) -> str:
    """DECIMAL(12,2) -> DECIMAL, varchar -> VARCHAR."""
    return column_type.upper().split("(")[0].strip()
