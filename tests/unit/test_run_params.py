"""Run params from whoever triggers a run: checked at once, named in the error, bounded."""

from __future__ import annotations

import datetime as dt

import pytest

from ferry.exceptions import BadRunParams, kind_of
from ferry.run_params import MAX_IDS, check_ids_for_key, parse_run_params


def test_good_params_are_converted():
    params = parse_run_params("2026-11-01", "2026-11-30T00:00:00", [101, "102 "])
    assert (params.date_from, params.date_to) == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert params.ids == (101, "102")
    assert parse_run_params(None, "", None) == parse_run_params()


@pytest.mark.parametrize(
    ("date_from", "date_to", "ids", "message"),
    [
        ("2026-02-30", None, None, "run param date_from: '2026-02-30' is not a date; expected "
         "a date as YYYY-MM-DD"),
        (None, "yesterday", None, "run param date_to: 'yesterday' is not a date"),
        (None, 20261101, None, "run param date_to: 20261101 is not a date"),
        ("2026-12-02", "2026-12-01", None, "date_from 2026-12-02 is after date_to 2026-12-01"),
        (None, "9999-12-31", None, "run param date_to: 9999-12-31 is out of range; expected a "
         "day from 0001-01-02 to 9998-12-31"),
        (None, None, "1,2,3", "run param ids: '1,2,3' is not a list; expected a list of up to "
         "10,000 key values"),
        (None, None, {"a": 1}, "run param ids: {'a': 1} is not a list"),
        (None, None, [1, [2, 3]], "run param ids: item 2 is a list, not a single key value"),
        (None, None, [True], "run param ids: item 1 is a bool, not a single key value"),
        (None, None, [1.5], "run param ids: item 1 is a float, not a single key value"),
        (None, None, [" "], "run param ids: item 1 is empty"),
        (None, None, ["x" * 201], "run param ids: item 1 is not a key value (over 200"),
        (None, None, [10**60], "run param ids: item 1 is not a key value (a number too large"),
        (None, None, list(range(MAX_IDS + 1)), "run param ids: 10,001 ids is over the "
         "maximum of 10,000; split the lookup into several runs"),
    ],
)  # fmt: skip
def test_a_bad_param_is_named_with_the_form_it_takes(date_from, date_to, ids, message):
    with pytest.raises(BadRunParams) as raised:
        parse_run_params(date_from, date_to, ids)
    assert message in str(raised.value)
    assert kind_of(raised.value) == "terminal"


def test_ids_up_to_the_maximum_are_taken():
    assert len(parse_run_params(ids=list(range(MAX_IDS))).ids) == MAX_IDS


@pytest.mark.parametrize(
    ("ids", "key_type", "message"),
    [
        (("abc",), "BIGINT", "item 1 ('abc') is not a value of the key lead_id (BIGINT); expe"),
        ((1, "2.5"), "INTEGER", "item 2 ('2.5') is not a value of the key lead_id (INTEGER)"),
        ((2**31,), "INTEGER", "item 1 (2147483648) is not a value of the key lead_id"),
        (("-1",), "UBIGINT", "item 1 ('-1') is not a value of the key lead_id (UBIGINT)"),
    ],
)
def test_ids_must_be_values_of_the_key_type(ids, key_type, message):
    with pytest.raises(BadRunParams, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_ids_for_key(ids, "lead_id", key_type)


def test_whole_numbers_fit_an_integer_key_and_any_text_fits_a_text_key():
    check_ids_for_key((1, "2", " -3", 2**63 - 1), "lead_id", "BIGINT")
    check_ids_for_key(("abc", 1), "email", "VARCHAR")
