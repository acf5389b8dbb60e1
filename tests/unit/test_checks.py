"""Target eligibility, size limits and `ferry preview`, on the demo warehouse.

Exports under test are written into a copy of include/ (FERRY_INCLUDE); expected rows
are computed in Python from the warehouse's own tables.
"""

from __future__ import annotations

import datetime as dt
import logging
import textwrap
from pathlib import Path

import duckdb
import pytest

from ferry import checks, engine, history, pipeline
from ferry.cli import main as ferry
from ferry.definitions import current_project
from ferry.exceptions import ExportRejected, ExportSkipped
from ferry.run_info import RunInfo
from include_copy import copy_include

ROOT = Path(__file__).resolve().parents[2]
NOT_ELIGIBLE = (
    "The following segment is not eligible for this export destination: '{name}'. "
    "Please choose only segments of type {kind} and try again."
)
EXPORT = """\
id: {id}
name: Test export {id}
kind: segment
source: {{segment: {segment}}}
target: {target}
destinations: [{{type: download}}]
"""
TINY_TARGET = """\
  tiny_crm:
    name: Tiny CRM
    segment_types: [customer_profile, contact]
    required_fields: [email]
    max_rows: 3000
    warn_rows: 1000
"""
log = logging.getLogger("test_checks")


@pytest.fixture
def include(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: Path) -> Path:
    """A copy of include/ with a tiny target, used by the steps and the CLI."""
    target = copy_include(tmp_path)
    with (target / "targets.yaml").open("a") as targets:
        targets.write(TINY_TARGET)
    monkeypatch.setenv("FERRY_INCLUDE", str(target))
    return target


def add_export(include: Path, export_id: str, segment: str, target: str, extra: str = "") -> str:
    text = EXPORT.format(id=export_id, segment=segment, target=target) + textwrap.dedent(extra)
    (include / "exports" / f"{export_id}.yaml").write_text(text)
    assert not current_project().errors, current_project().errors
    return export_id


def plan_of(export_id: str, run_id: str = "manual__test"):
    return pipeline.plan_for(RunInfo(export_id=export_id, run_id=run_id))


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


# --- Eligibility -------------------------------------------------------------------------


WITH_EMAIL = "fields: [email]\npii: {email: keep}\n"


@pytest.mark.parametrize(
    ("segment", "name", "target", "kind", "extra"),
    [
        ("enterprise_accounts", "Enterprise accounts", "mailchimp", "ContactProfile", ""),
        ("enterprise_accounts", "Enterprise accounts", "linkedin_contacts", "ContactProfile", ""),
        ("decision_makers", "B2B decision makers", "linkedin_companies", "AccountProfile",
         WITH_EMAIL),
        ("high_value_customers", "High value customers", "linkedin_contacts", "ContactProfile",
         WITH_EMAIL),
    ],
)  # fmt: skip
def test_a_segment_of_a_type_the_target_refuses_gets_the_message_users_know(
    include, segment, name, target, kind, extra
):
    add_export(include, "wrong_type", segment, target, extra)
    with pytest.raises(ExportRejected) as rejected:
        checks.check_eligibility(plan_of("wrong_type"), log=log)
    assert str(rejected.value) == NOT_ELIGIBLE.format(name=name, kind=kind)


def test_an_account_segment_sent_to_a_contact_target_hints_at_contacts_of_accounts(include, caplog):
    add_export(include, "accounts_to_mailchimp", "enterprise_accounts", "mailchimp")
    with caplog.at_level(logging.ERROR), pytest.raises(ExportRejected):
        checks.check_eligibility(plan_of("accounts_to_mailchimp"), log=log)
    assert "contacts_of_accounts: true" in caplog.text


@pytest.mark.parametrize(
    ("extra", "fix"),
    [
        ("fields: [first_name]\npii: {first_name: keep}\n", "add email to its fields"),
        ("fields: all\n", "it is PII: add pii: {email: keep}"),
        ("fields: all\npii: {email: exclude}\n", "it is PII: add pii: {email: keep}"),
    ],
)
def test_a_missing_required_field_is_named(include, extra, fix):
    add_export(include, "no_email", "high_value_customers", "mailchimp", extra)
    with pytest.raises(ExportRejected) as rejected:
        checks.check_eligibility(plan_of("no_email"), log=log)
    assert str(rejected.value) == (
        f"Target Mailchimp requires the field email, which export 'no_email' does not send; {fix}"
    )


def test_an_eligible_segment_passes(include):
    add_export(include, "ok", "decision_makers", "mailchimp", WITH_EMAIL)
    assert checks.check_eligibility(plan_of("ok"), log=log) == {"eligible": True}


def test_contacts_of_accounts_exports_the_contacts_of_the_segments_accounts(include, warehouse):
    extra = "contacts_of_accounts: true\nfields: [contact_id, account_id, email]\n"
    add_export(
        include,
        "enterprise_contacts",
        "enterprise_accounts",
        "mailchimp",
        extra + "pii: {email: keep}\n",
    )
    plan = plan_of("enterprise_contacts")
    assert checks.check_eligibility(plan, log=log) == {"eligible": True}

    accounts = {
        account_id
        for account_id, employees, customer in query(
            warehouse, "SELECT account_id, employee_count, is_customer FROM account"
        )
        if employees is not None and employees >= 1000 and customer is True
    }
    contacts = query(warehouse, "SELECT contact_id, account_id FROM contact")
    expected = sorted(str(cid) for cid, account_id in contacts if account_id in accounts)
    rows = engine.preview(plan, warehouse=warehouse, pii_key=None, limit=len(contacts))
    assert 0 < len(expected) < len(contacts)
    assert sorted(row["contact_id"] for row in rows) == expected
    assert all(int(row["account_id"]) in accounts for row in rows)


# --- Limits ------------------------------------------------------------------------------


def profiles_in_high_value(warehouse: Path) -> int:
    rows = query(warehouse, "SELECT lifetime_value, country, loyalty_tier FROM customer_profile")
    return sum(
        1
        for value, country, tier in rows
        if value is not None and value > 500 and (country == "US" or tier in ("gold", "platinum"))
    )


def test_the_tightest_limit_wins_and_says_whose_it_is(include):
    limits = "limits: {max_rows: 5000, warn_rows: 500}\n"
    add_export(include, "tight", "high_value_customers", "tiny_crm", WITH_EMAIL + limits)
    plan = plan_of("tight")
    limits = checks.effective_limits(plan.export, current_project().targets["tiny_crm"])
    assert limits["max_rows"] == checks.Limit(3000, "target Tiny CRM")
    assert limits["warn_rows"] == checks.Limit(500, "export tight")
    assert limits["max_bytes"] == checks.Limit(5_000_000_000, "platform default")


def test_over_the_warning_size_logs_the_numbers_and_goes_on(include, warehouse, caplog):
    add_export(
        include,
        "big",
        "high_value_customers",
        "mailchimp",
        WITH_EMAIL + "limits: {warn_rows: 100}\n",
    )
    rows = profiles_in_high_value(warehouse)
    with caplog.at_level(logging.INFO):
        counted = checks.check_limits(plan_of("big"), log=log)
    assert counted["rows"] == rows and counted["estimated_bytes"] > 0
    assert f"Large export big: {rows:,} rows is over the warning size of 100 rows (export big)" in (
        caplog.text
    )


def test_over_a_targets_maximum_skips_and_records_why(include, warehouse, caplog):
    add_export(include, "too_big", "high_value_customers", "tiny_crm", WITH_EMAIL)
    rows = profiles_in_high_value(warehouse)
    reason = f"{rows:,} rows is over the maximum of 3,000 rows (target Tiny CRM)"
    with caplog.at_level(logging.WARNING), pytest.raises(ExportSkipped) as skipped:
        checks.check_limits(plan_of("too_big", "manual__too_big"), log=log)
    assert str(skipped.value) == reason
    assert f"Skipping export too_big: {reason}; nothing is delivered" in caplog.text
    [record] = history.list_runs("too_big")
    assert (record.outcome, record.reason, record.job_run_id) == (
        "skipped", reason, "too_big.manual__too_big"
    )  # fmt: skip


def test_over_the_platform_default_skips(include, monkeypatch):
    add_export(include, "platform", "decision_makers", "mailchimp", WITH_EMAIL)
    monkeypatch.setattr(checks, "DEFAULT_MAX_BYTES", 1_000)
    with pytest.raises(ExportSkipped, match=r"bytes is over the maximum of 1,000 bytes \(platform"):
        checks.check_limits(plan_of("platform"), log=log, record=False)
    assert history.list_runs("platform") == []


# --- ferry preview -------------------------------------------------------------------------

PREVIEWED = """\
fields:
  - contact_id
  - {field: email, as: Email}
  - {field: first_name, as: "First, name"}
  - job_title
pii: {email: hash, first_name: mask}
"""


def test_preview_shows_counts_limits_and_the_first_rows_exactly_as_written(
    include, warehouse, capsys, monkeypatch, tmp_path
):
    monkeypatch.setenv("AIRFLOW_CONN_FERRY_PII", '{"conn_type": "generic", "password": "k3y"}')
    add_export(include, "previewed", "decision_makers", "mailchimp", PREVIEWED)
    members = decision_makers(warehouse)

    assert ferry(["preview", "previewed", "--rows", "4"]) == 0
    out = capsys.readouterr().out

    assert "  eligible:  yes" in out
    assert f"  rows:      {members:,} (maximum 1,000,000 rows (target Mailchimp); " in out
    assert "warning at 500,000 rows (target Mailchimp))" in out
    assert "  outcome:   would run" in out
    plan = plan_of("previewed")
    engine.extract(plan, warehouse=warehouse, pii_key=b"k3y", log=log)
    written = (plan.staging_dir / "previewed_00001.csv").read_text(encoding="utf-8")
    first_lines = "".join(written.splitlines(keepends=True)[:5])
    assert first_lines.startswith('contact_id,Email,"First, name",job_title\n')
    assert f"; {members - 4:,} more rows follow:\n{first_lines}" in out


def decision_makers(warehouse: Path) -> int:
    titles = ("CEO", "CTO", "CFO", "Chief Revenue Officer")
    rows = query(warehouse, "SELECT email_consent, email, job_title FROM contact")
    return sum(
        1
        for consent, email, title in rows
        if consent is True
        and email is not None
        and title is not None
        and (title in titles or title.lower().startswith("vp ") or "director" in title.lower())
    )


def test_preview_says_when_the_export_is_not_eligible_or_too_big(include, capsys):
    add_export(include, "accounts_to_crm", "enterprise_accounts", "mailchimp")
    add_export(include, "crm_too_big", "high_value_customers", "tiny_crm", WITH_EMAIL)

    assert ferry(["preview", "accounts_to_crm"]) == 1
    out = capsys.readouterr().out
    name_kind = NOT_ELIGIBLE.format(name="Enterprise accounts", kind="ContactProfile")
    assert f"  eligible:  no: {name_kind}" in out
    assert ferry(["preview", "crm_too_big"]) == 1
    out = capsys.readouterr().out
    assert "  outcome:   would be skipped: " in out and "(target Tiny CRM)" in out
    assert history.list_runs("crm_too_big") == []


def test_preview_of_an_unknown_export_is_an_error(include, capsys):
    assert ferry(["preview", "nope"]) == 2
    assert "export 'nope' is not defined" in capsys.readouterr().err


def recently_active(warehouse: Path, now: dt.datetime) -> int:
    rows = query(warehouse, "SELECT is_active, updated_at, loyalty_tier FROM customer_profile")
    since = now - dt.timedelta(days=30)
    return sum(
        1
        for active, updated, tier in rows
        if active is True and updated is not None and since <= updated <= now and tier != "bronze"
    )


@pytest.mark.parametrize("day", ["2026-06-30", "2026-11-22"])
def test_relative_dates_count_back_from_the_end_of_the_chosen_day(include, warehouse, capsys, day):
    add_export(
        include, "recent", "recently_active_customers", "s3_archive", "fields: [profile_id]\n"
    )
    end_of_day = dt.datetime.fromisoformat(day) + dt.timedelta(days=1)
    expected = recently_active(warehouse, end_of_day)
    for _ in range(2):
        assert ferry(["preview", "recent", "--date", day]) == 0
        assert f"  rows:      {expected:,} (" in capsys.readouterr().out
