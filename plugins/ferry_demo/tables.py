"""The SELECT that fills each table of the demo warehouse, from the building blocks."""

from __future__ import annotations

from ferry_demo.blocks import (
    chance,
    consumer_email,
    created_and_updated,
    keys_with_location,
    location_columns,
    numbers,
    person_name_columns,
    phone,
    pick,
    postal_code,
    rand,
    sprinkle,
    sql_list,
    uniform,
    weighted,
)
from ferry_demo.pools import (
    COMPANY_NAMES,
    COMPANY_SUFFIXES,
    CUSTOMER_NOTES,
    ERROR_REASONS,
    EVENTS_PER_LEAD,
    FILTER_REASONS,
    INDUSTRIES,
    JOB_TITLES,
    LEAD_CAMPAIGNS,
    LEAD_COMMENTS,
    LEAD_SOURCES,
    LOYALTY_TIER_FLOORS,
    NASTY_TEXTS,
    PRODUCT_TYPES,
    RECIPIENTS,
    REJECT_REASONS,
)


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
