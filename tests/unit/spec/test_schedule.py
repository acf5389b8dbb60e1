"""Schedule words, expiry dates, time zones and export statuses, without Airflow."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from ferry.spec.loader import load_project
from ferry.spec.schedule import (
    SCHEDULE_PRESETS,
    SCHEDULE_WORDS,
    cron_of,
    export_status,
    normalize,
    status_note,
)

from .helpers import GOOD_EXPORT, ROOT, errors_of, write


@pytest.fixture(scope="module")
def project():
    return load_project(ROOT / "include")


def export_like(project, **changes):
    """The demo export daily_lead_backup with some fields changed."""
    return project.exports["daily_lead_backup"].model_copy(update=changes)


def test_unquoted_off_is_the_off_schedule(include):
    write(include, "exports/quiet.yaml", GOOD_EXPORT.format(id="quiet") + "schedule: off\n")
    project = load_project(include)
    assert project.errors == [] and project.exports["quiet"].schedule == "off"


@pytest.mark.parametrize("schedule", ["daily", "'@daily'", "'30 6 * * 1-5'", "once", "refresh"])
def test_schedule_words_presets_and_crons_load(include, schedule):
    write(include, "exports/when.yaml", GOOD_EXPORT.format(id="when") + f"schedule: {schedule}\n")
    assert errors_of(include) == []


def test_a_cron_out_of_range_is_not_a_schedule(include):
    write(include, "exports/when.yaml", GOOD_EXPORT.format(id="when") + "schedule: '61 * * * *'\n")
    [error] = errors_of(include)
    assert "schedule -> '61 * * * *' is not a schedule" in error


@pytest.mark.parametrize("zone", ["Mars/Base", "x" * 5000, "../../etc/passwd"])
def test_a_time_zone_zoneinfo_cannot_open_is_one_clear_error(include, zone):
    write(include, "exports/zone.yaml", GOOD_EXPORT.format(id="zone") + f"timezone: '{zone}'\n")
    [error] = errors_of(include)
    assert error.startswith("include/exports/zone.yaml:6 -> timezone -> unknown time zone")
    assert error.endswith("use an IANA name such as UTC or America/New_York")


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, "active"),
        ({"schedule": "off"}, "off"),
        ({"enabled": False}, "disabled"),
        ({"tags": ["detached"]}, "detached"),
        ({"expires": dt.date(2026, 3, 1)}, "expired"),
        ({"expires": dt.date(2026, 3, 2)}, "active"),
    ],
)
def test_status(project, changes, status):
    assert export_status(export_like(project, **changes), today=dt.date(2026, 3, 2)) == status


def test_a_detached_export_stays_detached_whatever_else_applies(project):
    export = export_like(project, tags=["detached"], enabled=False, expires=dt.date(2026, 1, 2))
    assert export_status(export, today=dt.date(2026, 3, 2)) == "detached"


@pytest.mark.parametrize(
    ("written", "normal", "cron"),
    [
        ("daily", "@daily", "0 0 * * *"),
        (" Weekly ", "@weekly", "0 0 * * 0"),
        ("@hourly", "@hourly", "0 * * * *"),
        ("monthly", "@monthly", "0 0 1 * *"),
        ("30 6 * * 1-5", "30 6 * * 1-5", "30 6 * * 1-5"),
        ("refresh", "refresh", None),
        ("once", "once", None),
        ("off", "off", None),
    ],
)
def test_every_word_has_one_normal_form_and_cron(written, normal, cron):
    assert normalize(written) == normal
    assert cron_of(written) == cron


def test_each_word_is_the_same_as_its_preset():
    assert {normalize(word) for word in SCHEDULE_WORDS} <= set(SCHEDULE_PRESETS)


@pytest.mark.parametrize(
    ("status", "note"),
    [
        ("disabled", "inactive: enabled is false (ferry schedule x --on enables it)"),
        ("detached", "inactive: detached (ferry detach --undo x re-attaches it)"),
        ("expired", "expired on 2026-03-01 (no runs are scheduled after it)"),
        ("off", "schedule off (runs only on demand)"),
        ("active", ""),
    ],
)
def test_a_status_note_says_why_an_export_does_not_run(status, note):
    assert status_note("x", status, dt.date(2026, 3, 1)) == note


def test_the_commands_that_judge_schedules_import_no_airflow_layer():
    code = (
        "import sys; import ferry.cli.edit, ferry.cli.listing, ferry.spec.schedule; "
        "print(sorted({m.split('.')[0] + ('.render' if m.startswith('ferry.render') else '')"
        " for m in sys.modules if m.startswith(('airflow', 'ferry.render'))}))"
    )
    env_path = str(ROOT / "plugins")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    ).stdout  # fmt: skip
    assert out.strip() == "[]"
