"""Names Ferry's definitions give columns: checked when they load, errors at the right line.

Column names reach SQL (quoted) and output names become the files' headers, so both are
allow-listed, Ferry's own names (__ferry...) are reserved, and two names equal but for case
are refused, as DuckDB and most readers take them for one column.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

COLUMN_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,62}"
RESERVED_PREFIX = "__ferry"  # Ferry's own columns in queries (e.g. __ferry_key)


def column_name_problem(name: Any) -> str | None:
    """A warehouse column: a plain identifier, not one of Ferry's own (__ferry...)."""
    if not isinstance(name, str) or not re.fullmatch(COLUMN_PATTERN, name):
        return (
            f"{name!r} is not a valid column name; use letters, digits and _ (not a digit "
            "first), at most 63 characters"
        )
    return output_name_problem(name)


def output_name_problem(name: str) -> str | None:
    """A name the files' columns get: printable, and not Ferry's own (__ferry...)."""
    if not name or len(name) > 128 or not name.isprintable():
        return f"{name!r} is not a usable column name: 1 to 128 printable characters"
    if name.lower().startswith(RESERVED_PREFIX):
        return f"'{name}' is reserved: names starting with {RESERVED_PREFIX} are Ferry's own"
    return None


def check_output_name(name: str) -> str:
    problem = output_name_problem(name)
    if problem:
        raise ValueError(problem)
    return name


def located_error(loc: tuple, message: str, value: Any) -> ValidationError:
    """An error at loc below the model being validated, so it names that field's line.

    pydantic prefixes the loc of a ValidationError raised in a validator with the path to it.
    """
    error = PydanticCustomError("ferry", "{message}", {"message": message})
    details = [InitErrorDetails(type=error, loc=loc, input=value)]
    return ValidationError.from_exception_data("definition", details)


def refuse_duplicates(names: list[tuple[str, tuple]], what: str) -> None:
    """Two names equal but for case are one column to DuckDB and most readers: refused,
    the error located at the second."""
    seen: dict[str, str] = {}
    for name, loc in names:
        if name.lower() in seen:
            first = seen[name.lower()]
            message = f"{what} '{name}' is used twice (also '{first}'; case does not count)"
            raise located_error(loc, message, name)
        seen[name.lower()] = name
