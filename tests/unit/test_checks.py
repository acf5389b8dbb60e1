"""Target eligibility and size limits (ferry.checks), on the demo warehouse.

Exports under test are written into a copy of include/ (FERRY_INCLUDE), see checked_exports.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from checked_exports import (
    NOT_ELIGIBLE,
    WITH_EMAIL,
    add_export,
    include_with_tiny_target,
    plan_of,
    query,
)
from ferry import checks, engine, history
from ferry.definitions import current_project
from ferry.exceptions import ExportRejected, ExportSkipped

log = logging.getLogger("test_checks")


@pytest.fixture
def include(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: Path) -> Path:
    """A copy of include/ with a tiny target, used by the steps."""
    target = include_with_tiny_target(tmp_path)
    monkeypatch.setenv("FERRY_INCLUDE", str(target))
    return target


# --- Eligibility -------------------------------------------------------------------------


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


def test_a_derived_column_does_not_send_its_source_field(include):
    """email_domain sends only the domain: a target requiring email must not accept it."""
    extra = "fields: [{field: email, as: email_domain, derive: email_domain}]\n"
    add_export(include, "domain_only", "high_value_customers", "mailchimp", extra)
    with pytest.raises(ExportRejected) as rejected:
        checks.check_eligibility(plan_of("domain_only"), log=log)
    assert str(rejected.value) == (
        "Target Mailchimp requires the field email, which export 'domain_only' does not send; "
        "its column email_domain (derive: email_domain) sends only a part of email: "
        "add email to its fields as well"
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
    rows = engine.preview(plan, source=warehouse, pii_key=None, limit=len(contacts))
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
    assert plan.target == current_project().targets["tiny_crm"]
    limits = checks.effective_limits(plan.export, plan.target)
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


def test_the_checks_judge_the_plan_alone_not_the_definitions_on_disk(
    include, monkeypatch, tmp_path
):
    from ferry.plan import build_plan
    from ferry.run_info import RunInfo
    from ferry.spec.loader import load_project
    from ferry.staging import run_location

    add_export(include, "to_tiny", "enterprise_accounts", "tiny_crm")
    run = RunInfo("to_tiny", "manual__test")
    location = run_location(str(tmp_path / "staging"), "to_tiny", run.safe_run_id)
    plan = build_plan(load_project(include), "to_tiny", run, location)
    monkeypatch.setenv("FERRY_INCLUDE", str(tmp_path / "elsewhere"))  # no definitions there

    assert (plan.target.name, plan.segment.id) == ("Tiny CRM", "enterprise_accounts")
    with pytest.raises(ExportRejected) as rejected:
        checks.check_eligibility(plan, log=log)
    expected = NOT_ELIGIBLE.format(name="Enterprise accounts", kind="ContactProfile")
    assert str(rejected.value) == expected
    assert checks.effective_limits(plan.export, plan.target)["max_rows"].source == "target Tiny CRM"


# --- Limits at their boundaries: at a size runs, one over does not ------------------------


def limits_of(**values: int) -> dict[str, checks.Limit]:
    defaults = {"max_rows": 10**9, "max_bytes": 10**12}
    return {kind: checks.Limit(value, "export e") for kind, value in {**defaults, **values}.items()}


def test_an_export_exactly_at_a_maximum_is_not_over_it():
    assert checks.over_maximum(1000, 5000, limits_of(max_rows=1000, max_bytes=5000)) == ""
    assert checks.over_maximum(1001, 5000, limits_of(max_rows=1000)) == (
        "1,001 rows is over the maximum of 1,000 rows (export e)"
    )
    assert checks.over_maximum(1000, 5001, limits_of(max_bytes=5000)) == (
        "5,001 bytes is over the maximum of 5,000 bytes (export e)"
    )


def test_an_export_exactly_at_a_warning_size_is_not_over_it():
    limits = limits_of(warn_rows=1000, warn_bytes=5000)
    assert checks.over_warning(1000, 5000, limits) == []
    assert checks.over_warning(1001, 5001, limits) == [
        "1,001 rows is over the warning size of 1,000 rows (export e)",
        "5,001 bytes is over the warning size of 5,000 bytes (export e)",
    ]


def counted(warehouse: Path, export_id: str) -> tuple[int, int]:
    """The rows (from the warehouse, in Python) and the bytes check_limits estimates."""
    _, size = engine.count(plan_of(export_id), source=warehouse)
    return profiles_in_high_value(warehouse), size


def exports_around_a_limit(include, warehouse, limit: str, *, at: str, over: str):
    """Two exports of one segment: `at` with the limit equal to its size, `over` one past.

    Returns (rows, estimated bytes, the size the limit is measured in)."""
    add_export(include, "probe", "high_value_customers", "mailchimp", WITH_EMAIL)
    rows, size = counted(warehouse, "probe")
    at_limit = rows if limit.endswith("rows") else size
    for export_id, value in ((at, at_limit), (over, at_limit - 1)):
        limits = f"limits: {{{limit}: {value}}}\n"
        add_export(include, export_id, "high_value_customers", "mailchimp", WITH_EMAIL + limits)
    return rows, size, at_limit


@pytest.mark.parametrize("kind", ["rows", "bytes"])
def test_an_export_at_its_maximum_runs_and_one_over_is_skipped(include, warehouse, caplog, kind):
    rows, size, at_limit = exports_around_a_limit(include, warehouse, f"max_{kind}",
                                                  at="at_max", over="one_over")  # fmt: skip

    with caplog.at_level(logging.WARNING):
        assert checks.check_limits(plan_of("at_max"), log=log) == {
            "rows": rows, "estimated_bytes": size
        }  # fmt: skip
        with pytest.raises(ExportSkipped) as skipped:
            checks.check_limits(plan_of("one_over", "manual__over"), log=log)
    reason = f"{at_limit:,} {kind} is over the maximum of {at_limit - 1:,} {kind} (export one_over)"
    assert str(skipped.value) == reason
    assert "Skipping export at_max" not in caplog.text
    assert f"Skipping export one_over: {reason}; nothing is delivered" in caplog.text
    assert history.list_runs("at_max") == []
    [record] = history.list_runs("one_over")
    assert (record.outcome, record.reason) == ("skipped", reason)


@pytest.mark.parametrize("kind", ["rows", "bytes"])
def test_an_export_at_its_warning_size_goes_on_without_a_warning(include, warehouse, caplog, kind):
    *_, at_limit = exports_around_a_limit(include, warehouse, f"warn_{kind}",
                                         at="at_warn", over="warn_over")  # fmt: skip

    with caplog.at_level(logging.WARNING):
        checks.check_limits(plan_of("at_warn"), log=log)
        checks.check_limits(plan_of("warn_over"), log=log)
    assert "Large export at_warn" not in caplog.text
    assert (
        f"Large export warn_over: {at_limit:,} {kind} is over the warning size of "
        f"{at_limit - 1:,} {kind} (export warn_over)"
    ) in caplog.text
