"""SQL building blocks of the demo generator: seeded randomness, picks from the pools, the
temporary macros the table queries share, and the columns several tables have.

Every value is computed inside DuckDB from row numbers and hash(id, seed, salt), so a build
needs no Python loop and the same seed always gives the same rows.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Sequence

import duckdb

from ferry_demo.pools import (
    ASCII_SPELLINGS,
    COMPANY_NAMES,
    COMPANY_TLDS,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    LEAD_DELIVERY_MAX_SECONDS,
    LEAD_OUTCOMES,
    NASTY_NAMES,
    OTHER_LOCATION_WEIGHT,
    OTHER_LOCATIONS,
    PLUS_TAGS,
    US_LOCATION_WEIGHT,
    US_LOCATIONS,
    WINDOW_SECONDS,
    WINDOW_START,
)

# --- SQL building blocks ------------------------------------------------------------------


def sql_literal(value: str | None) -> str:
    """The SQL literal of a string or None."""
    if value is None:
        return "NULL"
    return "'" + value.replace("'", "''") + "'"


def sql_list(values: Iterable[str | None]) -> str:
    """A DuckDB list literal of strings."""
    return "[" + ", ".join(sql_literal(value) for value in values) + "]"


def weighted(weights: dict[str, int]) -> list[str]:
    """Each value repeated by its weight, so a uniform pick follows the weights."""
    return [value for value, weight in weights.items() for _ in range(weight)]


def rand(key: str, salt: str) -> str:
    """SQL for a seeded pseudo-random BIGINT >= 0 of each row's key.

    The key's column name is part of the salt, so row 1 of one table never mirrors row 1
    of another.
    """
    return f"rnd({key}, '{key}:{salt}')"


def chance(key: str, salt: str, percent: int) -> str:
    """SQL that is true for about percent % of the rows."""
    return f"({rand(key, salt)} % 100 < {percent})"


def uniform(key: str, salt: str) -> str:
    """SQL for a seeded DOUBLE in [0, 1)."""
    return f"({rand(key, salt)} % 1000000 / 1000000)"


def pick(values: Sequence[str | None], key: str, salt: str) -> str:
    """SQL picking one of values, uniformly."""
    return f"{sql_list(values)}[1 + {rand(key, salt)} % {len(values)}]"


def sprinkle(normal: str, key: str, period: int, nasty: Sequence[str | None]) -> str:
    """SQL that is normal, except every period-th row, which gets the next nasty value.

    A fixed period (rather than a random share) guarantees every nasty value appears once
    the table has period * len(nasty) rows.
    """
    return f"sprinkle({key}, {period}, {normal}, {sql_list(nasty)})"


def ascii_spelling(name: str) -> str:
    """A name as lower-case ASCII letters and digits, for an email address."""
    decomposed = unicodedata.normalize("NFKD", ASCII_SPELLINGS.get(name, name))
    return "".join(char for char in decomposed if char.isascii() and char.isalnum()).lower()


def locations() -> list[tuple[str, str, str | None, str, str]]:
    """The weighted location pool: (country, city, state, postal code, dialing code)."""
    us = [("US", city, state, zip3, "1") for city, state, zip3 in US_LOCATIONS]
    return us * US_LOCATION_WEIGHT + list(OTHER_LOCATIONS) * OTHER_LOCATION_WEIGHT


def location_list() -> str:
    """The location pool as a DuckDB list of structs."""
    fields = ("country", "city", "state", "postal", "dial")
    structs = [
        "{" + ", ".join(f"'{f}': {sql_literal(v)}" for f, v in zip(fields, row, strict=True)) + "}"
        for row in locations()
    ]
    return "[" + ", ".join(structs) + "]"


def numbers(rows: int) -> str:
    """A relation of the numbers 1..rows as column n."""
    return f"(SELECT n FROM row_numbers WHERE n <= {rows})"


def keys_with_location(key: str, rows: int) -> str:
    """A FROM clause of keys 1..rows, each with a location struct loc."""
    index = f"1 + {rand(key, 'location')} % {len(locations())}"
    return f"FROM (SELECT n AS {key}, location_at({index}) AS loc FROM {numbers(rows)})"


# --- Macros shared by the tables ----------------------------------------------------------


def create_macros(
    con: duckdb.DuckDBPyConnection, seed: int, window_seconds: int = WINDOW_SECONDS
) -> None:
    """Create the temporary macros the table queries use; the seed lives only here."""
    for statement in [*core_macros(seed, window_seconds), *lead_macros(), *account_macros()]:
        con.execute(statement)


def window_seconds_until(until: dt.date | None) -> int:
    """The data's window from WINDOW_START to the start of `until` (never shorter than the
    fixed window): built with today, yesterday's runs find rows."""
    if until is None:
        return WINDOW_SECONDS
    start = dt.datetime.fromisoformat(WINDOW_START).date()
    return max(WINDOW_SECONDS, (until - start).days * 86_400)


def core_macros(seed: int, window_seconds: int = WINDOW_SECONDS) -> list[str]:
    """Randomness, sprinkling, window timestamps and locations."""
    offset = (seed % 1_000_003) * 7919  # moves the sprinkled rows with the seed; never < 0
    return [
        # hash() is a UBIGINT; halved it fits a BIGINT, which list subscripts need.
        f"CREATE TEMP MACRO rnd(k, salt) AS (hash(k, {seed}, salt) >> 1)::BIGINT",
        f"""CREATE TEMP MACRO sprinkle(k, period, normal, nasty) AS CASE
            WHEN (k + {offset}) % period = 0
            THEN nasty[1 + ((k + {offset}) // period) % len(nasty)] ELSE normal END""",
        f"""CREATE TEMP MACRO window_time(seconds) AS
            TIMESTAMP '{WINDOW_START}' + to_seconds(seconds::BIGINT)""",
        f"CREATE TEMP MACRO location_at(i) AS {location_list()}[i]",
        f"CREATE TEMP MACRO window_seconds() AS {int(window_seconds)}::BIGINT",
    ]


def lead_macros() -> list[str]:
    """A lead's creation, delay and outcome, which lead_event repeats without a join."""
    latest_start = f"(window_seconds() - {LEAD_DELIVERY_MAX_SECONDS})"
    delay = f"2 + {rand('lead_id', 'delay')} % {LEAD_DELIVERY_MAX_SECONDS - 1}"
    created = f"window_time({rand('lead_id', 'created')} % {latest_start})"
    return [
        f"CREATE TEMP MACRO lead_created_at(lead_id) AS {created}",
        f"CREATE TEMP MACRO lead_delay(lead_id) AS {delay}",
        f"CREATE TEMP MACRO lead_outcome(lead_id) AS "
        f"{pick(weighted(LEAD_OUTCOMES), 'lead_id', 'outcome')}",
    ]


def account_macros() -> list[str]:
    """An account's company and domain, which contact emails use without a join."""
    stems = [ascii_spelling(name.split(" & ")[0]) for name in COMPANY_NAMES]
    company_index = f"1 + {rand('account_id', 'company')} % {len(COMPANY_NAMES)}"
    domain = f"""{sql_list(stems)}[company_index(account_id)] || '-' || account_id::VARCHAR
        || {pick(COMPANY_TLDS, "account_id", "tld")}"""
    return [
        f"CREATE TEMP MACRO company_index(account_id) AS {company_index}",
        f"CREATE TEMP MACRO account_domain(account_id) AS {domain}",
    ]


# --- Columns several tables share ---------------------------------------------------------


def person_name_columns(key: str) -> str:
    """first_name and last_name (sprinkled), and first_ascii/last_ascii for emails."""
    first_ascii = [ascii_spelling(name) for name in FIRST_NAMES]
    last_ascii = [ascii_spelling(name) for name in LAST_NAMES]
    return f"""
        {sprinkle(pick(FIRST_NAMES, key, "first"), key, 41, NASTY_NAMES)} AS first_name,
        {sprinkle(pick(LAST_NAMES, key, "last"), key, 43, NASTY_NAMES)} AS last_name,
        {pick(first_ascii, key, "first")} AS first_ascii,
        {pick(last_ascii, key, "last")} AS last_ascii"""


def consumer_email(key: str) -> str:
    """A personal address: varied formats and domains, some plus-addressed, some upper-case."""
    local = f"""CASE {rand(key, "email_format")} % 4
        WHEN 0 THEN first_ascii || '.' || last_ascii
        WHEN 1 THEN first_ascii[1] || last_ascii
        WHEN 2 THEN first_ascii || '_' || last_ascii
        ELSE last_ascii || first_ascii[1] END || {key}::VARCHAR"""
    plus = (
        f"CASE WHEN {chance(key, 'plus', 5)} THEN '+' || {pick(PLUS_TAGS, key, 'tag')} ELSE '' END"
    )
    address = f"{local} || {plus} || '@' || {pick(weighted(EMAIL_DOMAINS), key, 'domain')}"
    return f"CASE WHEN {chance(key, 'upper', 3)} THEN upper({address}) ELSE {address} END"


def phone(key: str) -> str:
    """A phone number of the row's country, E.164 or formatted; NULL for about 4%."""
    digits = f"((2000000000 + {rand(key, 'phone')} % 7999999999)::VARCHAR)"
    area, exchange, line = f"{digits}[1:3]", f"{digits}[4:6]", f"{digits}[7:]"
    style = f"{rand(key, 'phone_style')} % 4"
    return f"""CASE WHEN {chance(key, "no_phone", 4)} THEN NULL
        WHEN loc.dial <> '1' AND {style} < 2 THEN '+' || loc.dial || {digits}
        WHEN loc.dial <> '1' THEN '+' || loc.dial || ' ' || {area} || ' ' || {exchange}
            || ' ' || {line}
        WHEN {style} = 0 THEN '+1' || {digits}
        WHEN {style} = 1 THEN '(' || {area} || ') ' || {exchange} || '-' || {line}
        WHEN {style} = 2 THEN {area} || '-' || {exchange} || '-' || {line}
        ELSE '+1 ' || {area} || ' ' || {exchange} || ' ' || {line} END"""


def postal_code(key: str) -> str:
    """The location's postal code; in the US a ZIP from its 3-digit prefix, some ZIP+4."""
    zip5 = f"loc.postal || lpad(({rand(key, 'zip')} % 100)::VARCHAR, 2, '0')"
    plus4 = f"lpad(({rand(key, 'zip4')} % 10000)::VARCHAR, 4, '0')"
    return f"""CASE WHEN loc.country <> 'US' THEN loc.postal
        WHEN {chance(key, "zip4", 10)} THEN {zip5} || '-' || {plus4} ELSE {zip5} END"""


def created_and_updated(key: str, never_updated_percent: int) -> str:
    """created_at and updated_at in the window; updated_at is never before created_at."""
    updated_after = f"""CASE WHEN {chance(key, "never_updated", never_updated_percent)} THEN 0
        ELSE {rand(key, "updated")} % (window_seconds() - created_offset) END"""
    return f"""{rand(key, "created")} % window_seconds() AS created_offset,
        window_time(created_offset) AS created_at,
        window_time(created_offset + {updated_after}) AS updated_at"""


def location_columns(*names: str) -> str:
    """Columns of the row's location struct loc."""
    return ", ".join(f"loc.{name} AS {name}" for name in names)
