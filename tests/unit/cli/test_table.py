"""Plain-text tables: columns aligned two spaces apart, '-' for no value, UTC minutes."""

from __future__ import annotations

import datetime as dt

import pytest

from ferry.cli.table import display_width, render_table, short_time


def test_columns_are_as_wide_as_their_widest_cell_and_lines_end_without_spaces():
    text = render_table(["ID", "ROWS", "NOTE"], [["a_long_id", 7, ""], ["b", None, "ok"]])

    assert text.splitlines() == [
        "ID         ROWS  NOTE",
        "a_long_id  7     -",
        "b          -     ok",
    ]


def test_a_line_break_wide_characters_or_accents_in_a_cell_keep_the_columns_aligned():
    text = render_table(
        ["NAME", "STATUS"],
        [["two\nlines\tand tab", "active"], ["名前 export", "off"], ["Cafe\u0301", "paused"]],
    )

    header, *lines = text.splitlines()
    assert len(lines) == 3  # one line per row, whatever the cell holds
    status_at = header.index("STATUS")
    for line, status in zip(lines, ["active", "off", "paused"], strict=True):
        before = line[: line.index(status)]
        assert display_width(before) == status_at, line
    assert lines[0].startswith("two lines and tab  active")


def test_a_row_with_the_wrong_number_of_cells_is_an_error_not_a_shifted_column():
    with pytest.raises(ValueError):
        render_table(["ID", "ROWS"], [["a"]])


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-11-25T02:00:59+00:00", "2026-11-25 02:00 UTC"),
        ("2026-11-25T03:30:00+01:00", "2026-11-25 02:30 UTC"),
        ("2026-11-25T02:00:00", "2026-11-25 02:00 UTC"),  # naive: UTC, as Ferry writes it
        (dt.datetime(2026, 11, 24, 23, 15, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
         "2026-11-25 04:15 UTC"),
        (None, None),
        ("", None),
    ],
)  # fmt: skip
def test_short_time_shows_utc_minutes(value, shown):
    assert short_time(value) == shown
