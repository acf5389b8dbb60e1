"""`ferry preview` (ferry.preview): counts against the limits, eligibility and the first
rows exactly as written, on the demo warehouse.

Exports under test are written into a copy of include/ (FERRY_INCLUDE), see checked_exports.
"""

from __future__ import annotations

import datetime as dt
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
from ferry import engine, history
from ferry.cli import main as ferry

log = logging.getLogger("test_preview")


@pytest.fixture
def include(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: Path) -> Path:
    """A copy of include/ with a tiny target, used by the CLI."""
    target = include_with_tiny_target(tmp_path)
    monkeypatch.setenv("FERRY_INCLUDE", str(target))
    return target


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
    engine.extract(plan, source=warehouse, pii_key=b"k3y", log=log)
    written = (plan.staging_dir / "previewed_00001.csv").read_text(encoding="utf-8")
    first_lines = "".join(written.splitlines(keepends=True)[:5])
    assert first_lines.startswith('contact_id,Email,"First, name",job_title\n')
    assert f"; {members - 4:,} more rows follow:\n{first_lines}" in out


def test_preview_of_a_chunk_by_export_names_its_period_files(include, capsys, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_FERRY_PII", '{"conn_type": "generic", "password": "k3y"}')
    chunked = (
        "fields: [contact_id, email]\npii: {email: hash}\n"
        "format: {chunk_by: {column: created_at, every: week}}\n"
    )
    add_export(include, "weekly", "decision_makers", "mailchimp", chunked)
    assert ferry(["preview", "weekly", "--rows", "2"]) == 0
    out = capsys.readouterr().out
    assert "First 2 rows as written to weekly_<week>_00001.csv, one file set per week of " in out
    assert "created_at;" in out


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
