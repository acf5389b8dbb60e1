"""A run's on-demand params (date_from, date_to, ids), checked before any step uses them.

Params come from whoever triggers a run (the REST API's conf, the UI's form, `ferry run
--local`), so they are hostile: parse_run_params is the one check, called where a RunInfo
is built (ferry.render.operators.run_info, ferry.cli.local.local_run_info), and
check_ids_for_key checks the ids against the export's key type once the plan knows it.
A bad param is BadRunParams (terminal): the first task fails at once naming the param.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ferry.column_types import integer_range
from ferry.exceptions import BadRunParams

MAX_IDS = 10_000
MAX_ID_CHARS = 200
DATE_FORM = "a date as YYYY-MM-DD (e.g. 2026-11-20)"
# a day either side stays a date: the interval of --date D ends on D + 1
EARLIEST, LATEST = dt.date(1, 1, 2), dt.date(9998, 12, 31)
IDS_FORM = f"a list of up to {MAX_IDS:,} key values (e.g. [101, 102])"
_INTEGER = re.compile(r"^[+-]?[0-9]{1,39}$")


@dataclass(frozen=True)
class RunParams:
    """The checked params: dates, and ids as scalars (ints or strings)."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    ids: tuple[int | str, ...] = ()


def parse_run_params(date_from: Any = None, date_to: Any = None, ids: Any = None) -> RunParams:
    """Check and convert raw params.

    Raises:
        BadRunParams: Naming the param, what it got and the form it expects.
    """
    low, high = _date("date_from", date_from), _date("date_to", date_to)
    if low and high and low > high:
        raise BadRunParams(
            f"run params: date_from {low} is after date_to {high}; give date_from <= date_to"
        )
    return RunParams(low, high, _ids(ids))


def _date(name: str, value: Any) -> dt.date | None:
    day = _parse_date(name, value)
    if day is not None and not EARLIEST <= day <= LATEST:
        raise BadRunParams(
            f"run param {name}: {day} is out of range; expected a day from {EARLIEST} to {LATEST}"
        )
    return day


def _parse_date(name: str, value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) <= 40:
        text = value.strip()
        for parse in (dt.date.fromisoformat, lambda t: dt.datetime.fromisoformat(t).date()):
            try:
                return parse(text)
            except ValueError:
                continue
    raise BadRunParams(f"run param {name}: {_shown(value)} is not a date; expected {DATE_FORM}")


def _ids(value: Any) -> tuple[int | str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, Sequence):
        raise BadRunParams(f"run param ids: {_shown(value)} is not a list; expected {IDS_FORM}")
    if len(value) > MAX_IDS:
        raise BadRunParams(
            f"run param ids: {len(value):,} ids is over the maximum of {MAX_IDS:,}; "
            "split the lookup into several runs"
        )
    return tuple(_one_id(position, item) for position, item in enumerate(value, 1))


def _one_id(position: int, item: Any) -> int | str:
    problem = ""
    if isinstance(item, bool) or not isinstance(item, (int, str)):
        problem = f"is a {type(item).__name__}, not a single key value"
    elif isinstance(item, int) and not -(2**127) <= item < 2**128:
        problem = "is not a key value (a number too large for any key type)"
    elif isinstance(item, str) and not item.strip():
        problem = "is empty"
    elif isinstance(item, str) and (len(item) > MAX_ID_CHARS or "\x00" in item):
        problem = f"is not a key value (over {MAX_ID_CHARS} characters or a NUL byte)"
    if problem:
        raise BadRunParams(f"run param ids: item {position} {problem}; expected {IDS_FORM}")
    return item.strip() if isinstance(item, str) else item


def check_ids_for_key(ids: tuple[int | str, ...], key: str, key_type: str) -> None:
    """Each id must be a value of the key's type, e.g. a whole number for a BIGINT key.

    Raises:
        BadRunParams: Naming the first id that is not, the key and its type.
    """
    bounds = integer_range(key_type)
    if bounds is None:
        return  # text keys take any id; other types are cast by DuckDB (terminal if not)
    low, high = bounds
    for position, item in enumerate(ids, 1):
        text = str(item).strip()
        if not _INTEGER.match(text) or not low <= int(text) <= high:
            raise BadRunParams(
                f"run param ids: item {position} ({_shown(item)}) is not a value of the key "
                f"{key} ({key_type}); expected whole numbers, e.g. [101, 102]"
            )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
