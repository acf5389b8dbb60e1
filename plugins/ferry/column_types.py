"""What Ferry needs to know of DuckDB column types, in one place: no DuckDB import.

A column type comes from tables.yaml and ends up in SQL text (CAST(? AS <type>)), so it is
parsed against an allow-list into a canonical spelling when definitions load, and only the
canonical spelling ever reaches SQL: `VARCHAR) OR (1=1` is not a type, it is an error.
The list holds the types every format writes and reads back (INTERVAL is not: Parquet
cannot hold DuckDB's; nested types are not: CSV cannot).
"""

from __future__ import annotations

import re

from ferry.exceptions import Terminal

INTEGER_RANGES = {
    "TINYINT": (-(2**7), 2**7 - 1),
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INTEGER": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
    "HUGEINT": (-(2**127), 2**127 - 1),
    "UTINYINT": (0, 2**8 - 1),
    "USMALLINT": (0, 2**16 - 1),
    "UINTEGER": (0, 2**32 - 1),
    "UBIGINT": (0, 2**64 - 1),
}
INTEGER_TYPES = tuple(INTEGER_RANGES) + ("INT", "INT4", "INT8")  # INT... as older specs wrote
FLOAT_TYPES = ("FLOAT", "REAL", "DOUBLE")
DECIMAL_TYPES = ("DECIMAL", "NUMERIC")
MAX_DECIMAL_PRECISION = 38
DEFAULT_DECIMAL = (18, 3)  # DuckDB's DECIMAL without arguments
TEMPORAL_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMPTZ")

# Accepted spelling (upper case, single spaces) -> canonical DuckDB name.
_ALIASES = {
    **{name: name for name in INTEGER_RANGES},
    "INT1": "TINYINT", "INT2": "SMALLINT", "SHORT": "SMALLINT", "INT": "INTEGER",
    "INT4": "INTEGER", "SIGNED": "INTEGER", "INT8": "BIGINT", "LONG": "BIGINT",
    "BOOLEAN": "BOOLEAN", "BOOL": "BOOLEAN", "LOGICAL": "BOOLEAN",
    "FLOAT": "FLOAT", "FLOAT4": "FLOAT", "REAL": "FLOAT",
    "DOUBLE": "DOUBLE", "FLOAT8": "DOUBLE", "DOUBLE PRECISION": "DOUBLE",
    "DATE": "DATE", "TIME": "TIME",
    "TIMESTAMP": "TIMESTAMP", "DATETIME": "TIMESTAMP",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "TIMESTAMPTZ": "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "UUID": "UUID", "JSON": "JSON",
    "BLOB": "BLOB", "BYTEA": "BLOB", "BINARY": "BLOB", "VARBINARY": "BLOB",
}  # fmt: skip
_TEXT_NAMES = ("VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR", "NVARCHAR")
_SIZED = re.compile(r"([A-Z]+)\s*\(\s*(\d{1,3})\s*(?:,\s*(\d{1,3})\s*)?\)")
ALLOWED = (
    "BOOLEAN, TINYINT, SMALLINT, INTEGER, BIGINT, HUGEINT, UTINYINT, USMALLINT, UINTEGER, "
    "UBIGINT, FLOAT, REAL, DOUBLE, DECIMAL(p,s) or NUMERIC(p,s) with 1<=p<=38 and 0<=s<=p, "
    "VARCHAR, TEXT or STRING (optionally with a length), DATE, TIME, TIMESTAMP, TIMESTAMPTZ "
    "(TIMESTAMP WITH TIME ZONE), UUID, BLOB, JSON"
)


class UnknownColumnType(ValueError, Terminal):
    """A column type outside the allow-list."""


def canonical_type(column_type: str) -> str:
    """'decimal( 12, 2 )' -> 'DECIMAL(12,2)', 'text' -> 'VARCHAR'; anything else is refused.

    Raises:
        UnknownColumnType: the type is not on the allow-list (ALLOWED says what is).
    """
    if not isinstance(column_type, str) or len(column_type) > 64:
        raise UnknownColumnType(_unknown(column_type))
    spelled = " ".join(column_type.upper().split())
    if spelled in _ALIASES:
        return _ALIASES[spelled]
    if spelled in _TEXT_NAMES:
        return "VARCHAR"
    if spelled in DECIMAL_TYPES:
        return "DECIMAL({},{})".format(*DEFAULT_DECIMAL)
    sized = _SIZED.fullmatch(spelled)
    if sized and sized.group(1) in _TEXT_NAMES and sized.group(3) is None:
        return "VARCHAR"  # DuckDB ignores a VARCHAR's length; so does Ferry
    if sized and sized.group(1) in DECIMAL_TYPES:
        return _decimal(int(sized.group(2)), int(sized.group(3) or 0), column_type)
    raise UnknownColumnType(_unknown(column_type))


def _decimal(precision: int, scale: int, column_type: str) -> str:
    if not 1 <= precision <= MAX_DECIMAL_PRECISION or not 0 <= scale <= precision:
        raise UnknownColumnType(
            f"{column_type!r} is not a valid decimal: precision must be 1 to 38 and the scale "
            "0 to the precision, e.g. DECIMAL(12,2)"
        )
    return f"DECIMAL({precision},{scale})"


def _unknown(column_type: object) -> str:
    return f"{column_type!r} is not a column type Ferry knows; use one of: {ALLOWED}"


def base_type(column_type: str) -> str:
    """DECIMAL(12,2) -> DECIMAL, varchar -> VARCHAR."""
    return column_type.upper().split("(")[0].strip()


def decimal_shape(column_type: str) -> tuple[int, int] | None:
    """(precision, scale) of a DECIMAL column type, None for other types."""
    canonical = canonical_type(column_type)
    if not canonical.startswith("DECIMAL("):
        return None
    precision, scale = canonical[len("DECIMAL(") : -1].split(",")
    return int(precision), int(scale)


def integer_range(column_type: str) -> tuple[int, int] | None:
    """The (lowest, highest) value of an integer column type, None for other types."""
    return INTEGER_RANGES.get(canonical_type(column_type))
