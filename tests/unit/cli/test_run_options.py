"""--date, --from/--to and --ids: a day out of range or not a day is argparse's one-line
error (exit 2) before anything runs; ids are split on commas for parse_run_params."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest

from ferry.cli.run_options import add_run_options


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ferry run")
    add_run_options(parser)
    return parser.parse_args(argv)


def test_days_and_ids_are_parsed():
    args = parse("--date", "2026-11-20", "--from", "0001-01-02", "--to", "9998-12-31",
                 "--ids", "1,2,a b")  # fmt: skip

    assert (args.date, args.date_from, args.date_to) == (
        dt.date(2026, 11, 20), dt.date(1, 1, 2), dt.date(9998, 12, 31)
    )  # fmt: skip
    assert args.ids == ["1", "2", "a b"]
    assert parse().ids == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "2026-02-30"], "argument --from: '2026-02-30' is not a date; expected "
         "YYYY-MM-DD"),
        (["--date", "9999-12-31"], "argument --date: 9999-12-31 is out of range: from "
         "0001-01-02 to 9998-12-31"),
        (["--to", "0001-01-01"], "argument --to: 0001-01-01 is out of range"),
    ],
)  # fmt: skip
def test_a_bad_day_is_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2
    assert f"ferry run: error: {message}" in capsys.readouterr().err.splitlines()[-1]
