"""The deterministic demo warehouse: the tables of tables.yaml, filled with seeded fake data.

Every value is computed inside DuckDB from row numbers and hash(id, seed, salt), so a build needs
no Python loop and the same seed always gives the same rows. A few percent of the free-text
values are ones that break naive writers (quotes, newlines, tabs, emoji, '' and NULL).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb

from ferry import paths
from ferry.column_types import canonical_type
from ferry.exceptions import Terminal
from ferry.spec.names import column_name_problem
from ferry.spec.reader import UnreadableFile, display_name, read_yaml

CUSTOMER_PROFILES_BY_SIZE = {"small": 20_000, "medium": 200_000, "large": 10_000_000}
# Rows of each table per customer_profile row: the B2B tables are smaller, each lead has 3 events.
ROWS_PER_PROFILE = {
    "customer_profile": 1.0,
    "account": 0.1,
    "contact": 0.5,
    "lead": 1.0,
    "lead_event": 3.0,
}
EVENTS_PER_LEAD = 3
MEMORY_LIMIT = "2GB"

WINDOW_START = "2026-01-01 00:00:00"
WINDOW_SECONDS = 327 * 86_400  # 2026-01-01 up to the end of 2026-11-23
LEAD_DELIVERY_MAX_SECONDS = 900

# --- Value pools -------------------------------------------------------------------------

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Maria", "José", "Zoë", "Łukasz", "Sofía", "François",
    "Björn", "Anaïs", "Chloé", "Søren", "Mei", "伟", "Hiroshi", "Priya", "Aarav", "Olivia",
    "Noah", "Emma", "Liam", "Ava", "Mohammed", "Fatima", "Jean-Luc", "Anne-Marie", "Ngozi",
    "João", "Ingrid", "Siobhán",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernández", "López", "Müller", "Schmidt", "O'Brien", "D'Angelo", "McDonald",
    "Nguyen", "Kim", "李", "王", "Tanaka", "Suzuki", "Patel", "Sharma", "Kowalski",
    "Wiśniewski", "Dubois", "Lefèvre", "Silva", "Gonçalves", "van der Berg", "Smith-Jones",
    "Öztürk", "Ødegaard", "Nowak", "Rossi", "Ivanov", "Okafor", "Taylor", "Anderson",
)  # fmt: skip
# Names whose letters do not decompose to ASCII, spelled for email addresses.
ASCII_SPELLINGS = {"伟": "wei", "李": "li", "王": "wang", "Łukasz": "lukasz", "Søren": "soren",
                   "Ødegaard": "odegaard"}  # fmt: skip

EMAIL_DOMAINS = {
    "gmail.com": 40, "yahoo.com": 12, "outlook.com": 10, "hotmail.com": 8, "icloud.com": 8,
    "aol.com": 3, "proton.me": 3, "comcast.net": 3, "gmx.de": 3, "web.de": 2, "orange.fr": 2,
    "yahoo.co.jp": 2, "qq.com": 2, "uol.com.br": 2,
}  # fmt: skip
PLUS_TAGS = ("news", "shop", "promo", "2026", "ferry")

# US cities as (city, state, the first 3 digits of their ZIP codes).
US_LOCATIONS = (
    ("New York", "NY", "100"), ("Brooklyn", "NY", "112"), ("Los Angeles", "CA", "900"),
    ("San Francisco", "CA", "941"), ("San Diego", "CA", "921"), ("Houston", "TX", "770"),
    ("Austin", "TX", "787"), ("Dallas", "TX", "752"), ("San Antonio", "TX", "782"),
    ("Miami", "FL", "331"), ("Orlando", "FL", "328"), ("Tampa", "FL", "336"),
    ("Chicago", "IL", "606"), ("Phoenix", "AZ", "850"), ("Philadelphia", "PA", "191"),
    ("Seattle", "WA", "981"), ("Denver", "CO", "802"), ("Boston", "MA", "021"),
    ("Atlanta", "GA", "303"), ("Newark", "NJ", "071"), ("Portland", "ME", "041"),
    ("Hartford", "CT", "061"), ("Nashville", "TN", "372"), ("Columbus", "OH", "432"),
    ("Detroit", "MI", "482"), ("Las Vegas", "NV", "891"), ("Charlotte", "NC", "282"),
    ("Minneapolis", "MN", "554"),
)  # fmt: skip
# Other cities as (country, city, state or NULL, postal code, dialing code).
OTHER_LOCATIONS = (
    ("CA", "Toronto", "ON", "M5V 2T6", "1"), ("CA", "Montréal", "QC", "H2X 1Y4", "1"),
    ("CA", "Vancouver", "BC", "V6B 1A1", "1"), ("GB", "London", None, "SW1A 1AA", "44"),
    ("GB", "Manchester", None, "M1 1AE", "44"), ("DE", "Berlin", None, "10115", "49"),
    ("DE", "München", None, "80331", "49"), ("DE", "Köln", None, "50667", "49"),
    ("FR", "Paris", None, "75001", "33"), ("FR", "Lyon", None, "69001", "33"),
    ("MX", "Ciudad de México", None, "06600", "52"), ("MX", "Guadalajara", None, "44100", "52"),
    ("BR", "São Paulo", None, "01310-100", "55"), ("BR", "Rio de Janeiro", None, "20040-002", "55"),
    ("JP", "Tokyo", None, "100-0001", "81"), ("JP", "Ōsaka", None, "530-0001", "81"),
    ("AU", "Sydney", "NSW", "2000", "61"), ("AU", "Melbourne", "VIC", "3000", "61"),
    ("IN", "Mumbai", None, "400001", "91"), ("IN", "Bengaluru", None, "560001", "91"),
)  # fmt: skip
US_LOCATION_WEIGHT = 5  # each US city counts 5 times, each other city twice: ~75% US
OTHER_LOCATION_WEIGHT = 2

LOYALTY_TIER_FLOORS = ((9000, "platinum"), (4500, "gold"), (1000, "silver"))
CUSTOMER_NOTES = (
    "VIP; prefers SMS", "Asked about returns", "Moved last year", "Gift buyer",
    "Requested catalog", "Prefers weekend delivery", "Referred by a friend",
)  # fmt: skip

COMPANY_NAMES = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark Industries", "Wayne Enterprises", "Hooli",
    "Vandelay", "Soylent", "Nordwind", "Müller & Söhne", "O'Reilly Partners", "Société Générale",
    "Tōkai Trading", "Blue Harbor", "Pied Piper", "Cyberdyne", "Aperture", "Wonka", "Gringotts",
)  # fmt: skip
COMPANY_SUFFIXES = ("Inc.", "LLC", "Corp.", "Ltd", "GmbH", "S.A.", "K.K.", "Group", "Co.")
COMPANY_TLDS = (".com", ".com", ".com", ".io", ".net", ".co", ".de", ".co.uk")
INDUSTRIES = (
    "Software", "Financial Services", "Healthcare", "Manufacturing", "Retail", "Insurance",
    "Real Estate", "Education", "Logistics", "Energy", "Media", "Telecommunications",
    "Hospitality", "Legal Services", "Food & Beverage",
)  # fmt: skip
JOB_TITLES = (
    "CEO", "CTO", "CFO", "VP of Marketing", "Marketing Manager", "Head of Growth",
    "Data Engineer", "Sales Director", "Account Executive", "Operations Manager",
    "Product Manager", "Customer Success Manager", "IT Director", "Procurement Specialist",
    "Chief Revenue Officer",
)  # fmt: skip

LEAD_SOURCES = {"google_ads": 30, "facebook": 20, "organic": 15, "referral": 10,
                "partner_api": 15, "tiktok": 5, "email": 5}  # fmt: skip
LEAD_CAMPAIGNS = (
    "spring_sale_2026", "auto_q1_2026", "home_refi_2026", "summer_solar", "back_to_school",
    "black_friday_2026", "evergreen", "retargeting_30d",
)  # fmt: skip
PRODUCT_TYPES = ("auto_insurance", "home_insurance", "mortgage", "solar", "personal_loan",
                 "health_insurance")  # fmt: skip
LEAD_OUTCOMES = {"success": 68, "failure": 24, "error": 8}
LEAD_COMMENTS = (
    "Wants a quote for two cars", "Call after 6pm", "Existing customer", "Spanish speaker",
    "Duplicate of an earlier lead?", "Interested in bundling",
)  # fmt: skip
RECIPIENTS = ("acme_insurance", "bluewave_mortgage", "sunpower_direct", "shield_health",
              "lendwell", "homeguard")  # fmt: skip
FILTER_REASONS = ("dedupe: passed", "state allowed", "phone validated", "age check passed")
REJECT_REASONS = ("duplicate lead", "outside service area", "invalid phone", "daily cap reached",
                  "recipient paused")  # fmt: skip
ERROR_REASONS = ("timeout after 30s", "HTTP 500 from recipient", "TLS handshake failed",
                 "connection reset by peer")  # fmt: skip

# --- Values that break naive writers -------------------------------------------------------

# One value of each kind a test checks for; names get name-like ones. Every column that is
# sprinkled gets all of them, in turn, at every period-th row.
NASTY_TEXTS = (
    "Prefers email, not phone, after 5pm",
    'Said "please stop calling"',
    "First line\nsecond line",
    "Windows line\r\nsecond line",
    "before\tafter a tab",
    "  leading and trailing spaces  ",
    "Café déjà vu \u2013 naïve Straße",
    "Great customer 🎉🚀",
    "",
    None,
    'He said, "ok"\r\nthen left\t',
    "C:\\Users\\new\\table; a|b",
    "=SUM(A1:A2)",
    "NULL",
)
NASTY_NAMES = (
    "Smith, Jr.",
    'Robert "Bob"',
    "Mary\nJane",
    "Anne\r\nMarie",
    "Zoë\tJones",
    "  José  ",
    "Łukasz Wiśniewski",
    "Kim 😀",
    "",
    None,
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


def create_macros(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    """Create the temporary macros the table queries use; the seed lives only here."""
    for statement in [*core_macros(seed), *lead_macros(), *account_macros()]:
        con.execute(statement)


def core_macros(seed: int) -> list[str]:
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
    ]


def lead_macros() -> list[str]:
    """A lead's creation, delay and outcome, which lead_event repeats without a join."""
    latest_start = WINDOW_SECONDS - LEAD_DELIVERY_MAX_SECONDS
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
        ELSE {rand(key, "updated")} % ({WINDOW_SECONDS} - created_offset) END"""
    return f"""{rand(key, "created")} % {WINDOW_SECONDS} AS created_offset,
        window_time(created_offset) AS created_at,
        window_time(created_offset + {updated_after}) AS updated_at"""


def location_columns(*names: str) -> str:
    """Columns of the row's location struct loc."""
    return ", ".join(f"loc.{name} AS {name}" for name in names)


# --- Tables -------------------------------------------------------------------------------


def customer_profile_sql(rows: int) -> str:
    """SELECT of every customer_profile row."""
    key = "profile_id"
    # Cubing a uniform number gives many small order counts and a few large ones.
    order_count = f"floor({uniform(key, 'orders')} ** 3 * 80)"
    average_order = f"(1500 + {rand(key, 'average_order')} % 18500) / 100"
    return f"""
    SELECT {key}, {person_name_columns(key)}, {consumer_email(key)} AS email,
      {phone(key)} AS phone,
      CASE WHEN {chance(key, "no_birth_date", 3)} THEN NULL
           ELSE DATE '1940-01-01' + ({rand(key, "birth_date")} % 23000)::INTEGER END AS birth_date,
      {location_columns("city", "state", "country")}, {postal_code(key)} AS postal_code,
      {order_count} AS order_count,
      order_count * {average_order} AS value_earned,
      CASE WHEN {chance(key, "no_value", 2)} THEN NULL ELSE value_earned END AS lifetime_value,
      {loyalty_tier("value_earned")} AS loyalty_tier,
      {chance(key, "email_consent", 70)} AS email_consent,
      {chance(key, "sms_consent", 35)} AS sms_consent,
      {chance(key, "active", 88)} AS is_active,
      {sprinkle(profile_note(key), key, 29, NASTY_TEXTS)} AS notes,
      {created_and_updated(key, 20)}
    {keys_with_location(key, rows)}"""


def profile_note(key: str) -> str:
    """A short note for a quarter of the profiles, NULL for the rest."""
    return f"CASE WHEN {chance(key, 'has_note', 25)} THEN {pick(CUSTOMER_NOTES, key, 'note')} END"


def loyalty_tier(value: str) -> str:
    """SQL for the tier a lifetime value earns."""
    whens = " ".join(
        f"WHEN {value} >= {floor} THEN '{tier}'" for floor, tier in LOYALTY_TIER_FLOORS
    )
    return f"CASE {whens} ELSE 'bronze' END"


def account_sql(rows: int) -> str:
    """SELECT of every account row."""
    key = "account_id"
    company = f"{sql_list(COMPANY_NAMES)}[company_index({key})] || ' ' || " + pick(
        COMPANY_SUFFIXES, key, "suffix"
    )
    # Squaring before exp() makes small companies common and giants rare.
    employees = f"greatest(1, round(exp({uniform(key, 'employees')} ** 2 * ln(100000))))"
    return f"""
    SELECT {key}, {sprinkle(company, key, 23, NASTY_TEXTS)} AS company_name,
      account_domain({key}) AS domain, {pick(INDUSTRIES, key, "industry")} AS industry,
      {employees} AS employee_count,
      employee_count * (50000 + {rand(key, "revenue")} % 25000000 / 100) AS annual_revenue,
      {location_columns("city", "state", "country")},
      CASE WHEN employee_count >= 1000 THEN 'enterprise'
           WHEN employee_count >= 100 THEN 'mid-market' ELSE 'smb' END AS tier,
      {chance(key, "customer", 35)} AS is_customer,
      {created_and_updated(key, 10)}
    {keys_with_location(key, rows)}"""


def contact_sql(rows: int, accounts: int) -> str:
    """SELECT of every contact row, each at one of the accounts 1..accounts."""
    key = "contact_id"
    address = "first_ascii || '.' || last_ascii || '@' || account_domain(account_id)"
    return f"""
    SELECT {key}, 1 + {rand(key, "account")} % {accounts} AS account_id,
      {person_name_columns(key)},
      CASE WHEN {chance(key, "upper", 3)} THEN upper({address}) ELSE {address} END AS email,
      {phone(key)} AS phone, {pick(JOB_TITLES, key, "title")} AS job_title,
      {location_columns("city", "state", "country")},
      {chance(key, "email_consent", 60)} AS email_consent,
      {created_and_updated(key, 30)}
    {keys_with_location(key, rows)}"""


def lead_sql(rows: int) -> str:
    """SELECT of every lead row; only successful leads are delivered and earn revenue."""
    key = "lead_id"
    revenue = f"(500 + {rand(key, 'revenue')} % 14500) / 100"
    return f"""
    SELECT {key}, {person_name_columns(key)}, {consumer_email(key)} AS email,
      {phone(key)} AS phone, {location_columns("state", "country")},
      {pick(weighted(LEAD_SOURCES), key, "source")} AS source,
      {pick(LEAD_CAMPAIGNS, key, "campaign")} AS campaign,
      {pick(PRODUCT_TYPES, key, "product")} AS product_type,
      lead_outcome({key}) AS outcome,
      CASE WHEN outcome = 'success' THEN {revenue} ELSE 0 END AS revenue,
      {sprinkle(lead_comment(key), key, 31, NASTY_TEXTS)} AS comments,
      lead_created_at({key}) AS created_at,
      CASE WHEN outcome = 'success' THEN created_at + to_seconds(lead_delay({key})) END
        AS delivered_at
    {keys_with_location(key, rows)}"""


def lead_comment(key: str) -> str:
    """A comment for 30% of the leads, NULL for the rest."""
    return (
        f"CASE WHEN {chance(key, 'has_comment', 30)} THEN {pick(LEAD_COMMENTS, key, 'comment')} END"
    )


def lead_event_sql(rows: int) -> str:
    """SELECT of every lead_event row: received, filtered, then delivered/rejected/errored."""
    key = "event_id"
    return f"""
    SELECT {key}, lead_id, {event_type()} AS event_type,
      CASE WHEN step < 2 THEN 'success' ELSE lead_outcome(lead_id) END AS outcome,
      {sprinkle(event_reason(key), key, 37, NASTY_TEXTS)} AS reason,
      CASE WHEN step = 2 THEN {pick(RECIPIENTS, "lead_id", "recipient")} END AS recipient,
      CASE WHEN outcome = 'error' THEN 1000 + {rand(key, "duration")} % 29000
           ELSE 5 + {rand(key, "duration")} % 800 END AS duration_ms,
      lead_created_at(lead_id) + to_seconds(CASE step WHEN 0 THEN 0
        WHEN 1 THEN 1 + {rand("lead_id", "filtered")} % (lead_delay(lead_id) - 1)
        ELSE lead_delay(lead_id) END) AS created_at
    FROM (SELECT n AS {key}, 1 + (n - 1) // {EVENTS_PER_LEAD} AS lead_id,
                 (n - 1) % {EVENTS_PER_LEAD} AS step
          FROM {numbers(rows)})"""


def event_type() -> str:
    """SQL for the type of a lead's step-th event."""
    return """CASE step WHEN 0 THEN 'source.received' WHEN 1 THEN 'filter.applied'
        ELSE CASE lead_outcome(lead_id) WHEN 'success' THEN 'recipient.delivered'
          WHEN 'failure' THEN 'recipient.rejected' ELSE 'recipient.error' END END"""


def event_reason(key: str) -> str:
    """Why a step ended as it did; NULL for received and delivered events."""
    return f"""CASE WHEN step = 0 THEN NULL
        WHEN step = 1 THEN {pick(FILTER_REASONS, key, "reason")}
        WHEN lead_outcome(lead_id) = 'failure' THEN {pick(REJECT_REASONS, key, "reason")}
        WHEN lead_outcome(lead_id) = 'error' THEN {pick(ERROR_REASONS, key, "reason")} END"""


def table_select(name: str, counts: dict[str, int]) -> str:
    """The SELECT that fills one table."""
    if name == "contact":
        return contact_sql(counts["contact"], counts["account"])
    builders = {
        "customer_profile": customer_profile_sql,
        "account": account_sql,
        "lead": lead_sql,
        "lead_event": lead_event_sql,
    }
    return builders[name](counts[name])


# --- Building -----------------------------------------------------------------------------


class ContractError(ValueError, Terminal):
    """tables.yaml cannot be read: another try reads the same file (the CLI prints it)."""


def load_contract(tables_yaml: Path | None = None) -> dict[str, dict[str, str]]:
    """Each table's columns and their DuckDB types, in order, from tables.yaml.

    Read as the loader reads it (bounded, duplicate keys refused), so the warehouse and the
    definitions never see two different files.
    """
    tables_yaml = tables_yaml or paths.include_dir() / "warehouse" / "tables.yaml"
    try:
        tables = read_yaml(tables_yaml, display_name(tables_yaml, tables_yaml.parent.parent))[1]
    except UnreadableFile as error:
        raise ContractError(str(error)) from None
    tables = tables["tables"]
    return {
        name: {
            _column(column): canonical_type(spec["type"])
            for column, spec in table["columns"].items()
        }
        for name, table in tables.items()
    }


def _column(name: str) -> str:
    """Names and types reach the generator's SQL: the loader's allow-lists apply here too."""
    problem = column_name_problem(name)
    if problem:
        raise ValueError(f"tables.yaml: {problem}")
    return name


def row_counts(size: str = "small", rows: int | None = None) -> dict[str, int]:
    """The rows of each table for a size, or for rows customer profiles."""
    if size not in CUSTOMER_PROFILES_BY_SIZE:
        raise ValueError(f"size must be one of {', '.join(CUSTOMER_PROFILES_BY_SIZE)}: {size!r}")
    if rows is not None and rows < 1:
        raise ValueError(f"rows must be at least 1: {rows}")
    profiles = rows if rows is not None else CUSTOMER_PROFILES_BY_SIZE[size]
    counts = {name: max(1, round(profiles * ratio)) for name, ratio in ROWS_PER_PROFILE.items()}
    counts["lead_event"] = counts["lead"] * EVENTS_PER_LEAD
    return counts


def selected_tables(tables: Sequence[str] | None) -> list[str]:
    """The tables to build in the contract's order; all of them when tables is None."""
    known = ", ".join(ROWS_PER_PROFILE)
    unknown = sorted(set(tables or ()) - set(ROWS_PER_PROFILE))
    if unknown:
        raise ValueError(f"unknown table(s) {', '.join(unknown)}; known: {known}")
    if tables is not None and not tables:
        raise ValueError(f"no tables to build; known: {known}")
    return [name for name in ROWS_PER_PROFILE if tables is None or name in tables]


def build_table(
    con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, str], counts: dict[str, int]
) -> int:
    """Create one table with the contract's columns and types, fill it and count its rows."""
    definition = ", ".join(f'"{column}" {type_}' for column, type_ in columns.items())
    con.execute(f'CREATE TABLE "{name}" ({definition})')
    # Selecting the contract's columns by name drops helper columns (first_ascii, loc, ...)
    # and fails loudly when the generator lacks one.
    casts = ", ".join(
        f'CAST("{column}" AS {type_}) AS "{column}"' for column, type_ in columns.items()
    )
    con.execute(f'INSERT INTO "{name}" SELECT {casts} FROM ({table_select(name, counts)})')
    return con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]


def create_row_numbers(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    """A temporary table of the numbers 1..rows that the tables are generated from.

    range() feeds a query on one thread; a table is scanned by all of them, which halves
    the build time on two cores.
    """
    con.execute(f"CREATE TEMP TABLE row_numbers AS SELECT range AS n FROM range(1, {rows + 1})")


def fill(database: Path, counts: dict[str, int], names: list[str], seed: int) -> dict[str, int]:
    """Build the named tables into a new DuckDB file, checkpointed so it needs no WAL."""
    contract = load_contract()
    with duckdb.connect(str(database)) as con:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        create_macros(con, seed)
        create_row_numbers(con, max(counts[name] for name in names))
        built = {name: build_table(con, name, contract[name], counts) for name in names}
        con.execute("CHECKPOINT")
    return built


def write_ahead_log(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


def temporary_path(path: Path) -> Path:
    """A fresh hidden name next to path, so the final rename stays on one file system.

    It keeps path's suffix so a leftover of a killed build matches the same ignore rules.
    """
    return path.with_name(f".{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


def build_warehouse(
    path: Path,
    *,
    size: str = "small",
    rows: int | None = None,
    seed: int = 42,
    tables: list[str] | None = None,
) -> dict[str, int]:
    """Write the demo warehouse to path, atomically, and return the rows of each table.

    Args:
        path: The DuckDB file to create or replace.
        size: small, medium or large; see CUSTOMER_PROFILES_BY_SIZE.
        rows: customer_profile rows instead of the size's; the other tables scale with it.
        seed: The same seed and size always give the same rows.
        tables: Only these tables (all by default).
    """
    path = Path(path)
    counts, names = row_counts(size, rows), selected_tables(tables)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    try:
        built = fill(temporary, counts, names, int(seed))
        # A log left by a crashed writer of the old file would be replayed onto the new one.
        write_ahead_log(path).unlink(missing_ok=True)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
        write_ahead_log(temporary).unlink(missing_ok=True)
    return built


# --- Command line -------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ferry.warehouse", description="Build the deterministic demo warehouse."
    )
    parser.add_argument("--path", type=Path, help="default: include/warehouse/demo.duckdb")
    parser.add_argument("--size", choices=list(CUSTOMER_PROFILES_BY_SIZE), default="small")
    parser.add_argument("--rows", type=int, help="customer_profile rows; the rest scale with it")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tables", help="comma-separated, e.g. customer_profile,lead")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build the warehouse and print each table's rows and the seconds taken."""
    args = parse_args(argv)
    path = args.path or paths.warehouse_path()
    tables = [name.strip() for name in args.tables.split(",")] if args.tables else None
    started = time.perf_counter()
    try:
        counts = build_warehouse(
            path, size=args.size, rows=args.rows, seed=args.seed, tables=tables
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, count in counts.items():
        print(f"{name:<18}{count:>12,} rows")
    print(f"built {path} in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
