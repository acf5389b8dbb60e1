"""Plain-text tables for the command line: aligned columns, no dependency.

Not rich's Table: piped, it clamps a table to 80 columns and wraps cells onto more lines,
and it reads [markup] in cell text; here one row is one line, whatever the terminal.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns two spaces apart, headers first; None shows as '-'."""
    cells = [[_text(value) for value in row] for row in rows]
    widths = [display_width(header) for header in headers]
    for row in cells:
        widths = [max(width, display_width(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = [_line(headers, widths)] + [_line(row, widths) for row in cells]
    return "\n".join(lines)


def _line(cells: Sequence[str], widths: list[int]) -> str:
    padded = (
        cell + " " * (width - display_width(cell))
        for cell, width in zip(cells, widths, strict=True)
    )
    return "  ".join(padded).rstrip()


def _text(value: object) -> str:
    """One line of text: a line break or tab in a name would shift every column after it."""
    return "-" if value is None or value == "" else _CONTROL.sub(" ", str(value))


def display_width(text: str) -> int:
    """Columns a terminal gives the text: wide (CJK) characters take two, combining marks none."""
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1
        for char in text
    )


def short_time(value: str | dt.datetime | None) -> str | None:
    """An ISO timestamp as '2026-11-25 02:00 UTC' (minutes are what people schedule by)."""
    if not value:
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
