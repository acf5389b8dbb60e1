"""The options that choose what one run exports: --date, --from/--to and --ids.

Shared by `ferry preview` and `ferry run` (here or in Airflow); parse_run_params checks
the rest, as it checks the params of a run started in Airflow.
"""

from __future__ import annotations

import argparse
import datetime as dt

from ferry.run_params import EARLIEST, LATEST


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", type=day, help="the day to export (interval), YYYY-MM-DD")
    parser.add_argument("--from", dest="date_from", type=day, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", type=day, help="last day, YYYY-MM-DD")
    # the rest is checked by parse_run_params, as the params of a run in Airflow are
    parser.add_argument("--ids", type=lambda text: text.split(","), default=[], help="a,b,c")


def day(text: str) -> dt.date:
    """A YYYY-MM-DD option: a real day a run can take, or argparse's one-line error."""
    try:
        found = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; expected YYYY-MM-DD") from None
    if not EARLIEST <= found <= LATEST:
        raise argparse.ArgumentTypeError(f"{text} is out of range: from {EARLIEST} to {LATEST}")
    return found
