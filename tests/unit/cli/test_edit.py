"""Commands that edit definitions in place (duplicate, schedule, detach): the file keeps
its comments and the rest of its text, a change that does not load is undone, and the
DAG is paused or unpaused through a real HTTP fake of Airflow's REST API."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_runner import commented_include, run_ferry
from fake_airflow import fake_airflow
from ferry import airflow_api


@pytest.fixture
def definitions(tmp_path, monkeypatch) -> Path:
    """A copy of include/ the commands read and edit; exports get a comment to keep."""
    include = commented_include(tmp_path)
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    monkeypatch.setenv("FERRY_AIRFLOW_PASSWORD", "p")
    monkeypatch.setattr(airflow_api, "RETRY_DELAYS", (0.01,))
    return include


@pytest.fixture
def airflow():
    with fake_airflow(missing={"export__lead_backup_copy"}) as fake:
        yield fake


ferry = run_ferry


def export_file(include: Path, export_id: str) -> Path:
    return include / "exports" / f"{export_id}.yaml"


def test_schedule_set_changes_several_exports_keeping_everything_else(definitions):
    exports = ["daily_lead_backup", "mailchimp_high_value"]
    originals = {e: export_file(definitions, e).read_text() for e in exports}

    changed = ferry("schedule", *exports, "--set", "weekly", "--timezone", "Europe/Berlin")

    assert changed.code == 0, changed.err
    assert changed.out.splitlines() == [
        "daily_lead_backup: schedule @weekly (Europe/Berlin), active",
        "mailchimp_high_value: schedule @weekly (Europe/Berlin), active",
    ]
    for export_id, original in originals.items():
        text = export_file(definitions, export_id).read_text()
        old = next(line for line in original.splitlines() if line.startswith("schedule:"))
        assert text == original.replace(old, 'schedule: "@weekly"\ntimezone: Europe/Berlin')


def test_schedule_rejects_a_bad_cron_and_changes_nothing(definitions):
    original = export_file(definitions, "daily_lead_backup").read_text()

    result = ferry("schedule", "daily_lead_backup", "--set", "61 * * * *")

    assert result.code == 1 and "'61 * * * *' is not a schedule" in result.err
    assert export_file(definitions, "daily_lead_backup").read_text() == original


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--on", "--timezone", "UTC"], "ferry schedule: --timezone goes with --set"),
        (["--set", "daily", "--timezone", "Mars/Base"],
         "ferry schedule: unknown time zone 'Mars/Base': use an IANA name such as Europe/Berlin"),
    ],
)  # fmt: skip
def test_schedule_refuses_a_bad_time_zone_in_one_line(definitions, args, message):
    original = export_file(definitions, "daily_lead_backup").read_text()

    result = ferry("schedule", "daily_lead_backup", *args)

    assert (result.code, result.err) == (1, message + "\n")
    assert export_file(definitions, "daily_lead_backup").read_text() == original


def test_schedule_off_disables_and_pauses_on_enables_and_unpauses(definitions, airflow):
    path = export_file(definitions, "daily_lead_backup")
    original = path.read_text()

    off = ferry("schedule", "daily_lead_backup", "--off", "--url", airflow.url)
    disabled, paused = path.read_text(), airflow.paused
    on = ferry("schedule", "daily_lead_backup", "--on", "--url", airflow.url)

    assert off.code == on.code == 0, off.err + on.err
    assert disabled == original.replace('"0 2 * * *"\n', '"0 2 * * *"\nenabled: false\n')
    assert off.out.splitlines() == [
        "daily_lead_backup: schedule 0 2 * * *, disabled",
        "  export__daily_lead_backup: paused in Airflow",
    ]
    assert paused is True and airflow.paused is False
    assert path.read_text() == original.replace('"0 2 * * *"\n', '"0 2 * * *"\nenabled: true\n')


def test_a_dag_airflow_does_not_have_yet_starts_as_the_definition_says(definitions, airflow):
    assert ferry("duplicate", "daily_lead_backup", "lead_backup_copy").code == 0

    on = ferry("schedule", "lead_backup_copy", "--on", "--url", airflow.url)

    assert on.code == 0, on.err
    assert "  export__lead_backup_copy: not in Airflow yet: it starts unpaused" in on.out


def test_an_unreachable_airflow_leaves_the_definition_changed_and_says_so(definitions):
    with fake_airflow() as gone:
        pass  # nothing listens at gone.url any more

    off = ferry("schedule", "daily_lead_backup", "--off", "--url", gone.url)

    assert off.code == 1
    assert "  Airflow not updated (Airflow at " in off.out
    assert "pause or unpause the DAG in its UI" in off.out
    assert "enabled: false" in export_file(definitions, "daily_lead_backup").read_text()


def test_detach_tags_and_pauses_and_undo_restores_the_file(definitions, airflow):
    path = export_file(definitions, "mailchimp_high_value")
    original = path.read_text()

    detached = ferry("detach", "mailchimp_high_value", "--url", airflow.url)
    detached_text, paused = path.read_text(), airflow.paused
    undone = ferry("detach", "mailchimp_high_value", "--undo", "--url", airflow.url)

    assert detached.code == undone.code == 0, detached.err + undone.err
    assert detached_text == original + "tags: [detached]\n"
    assert "mailchimp_high_value: schedule @daily, detached" in detached.out
    assert paused is True and airflow.paused is False
    assert path.read_text() == original


def test_duplicate_writes_an_inactive_copy_keeping_comments(definitions):
    result = ferry("duplicate", "daily_lead_backup", "lead_backup_copy")

    copy = export_file(definitions, "lead_backup_copy")
    assert result.code == 0, result.err
    assert result.out == f"wrote {copy}: inactive until `ferry schedule lead_backup_copy --on`\n"
    assert copy.read_text() == (
        export_file(definitions, "daily_lead_backup").read_text()
        .replace("id: daily_lead_backup", "id: lead_backup_copy")
        .replace("name: Daily lead backup", "name: Copy of Daily lead backup")
        .replace('schedule: "0 2 * * *"\n', 'schedule: "0 2 * * *"\nenabled: false\n')
    )  # fmt: skip
    again = ferry("duplicate", "daily_lead_backup", "lead_backup_copy")
    assert again.code == 1 and "already exists" in again.err


@pytest.mark.parametrize("new_id", ["Bad-Id", "../escape"])
def test_duplicate_refuses_an_id_that_is_not_one_and_writes_nothing(definitions, new_id):
    before = sorted(p.name for p in (definitions / "exports").iterdir())

    result = ferry("duplicate", "daily_lead_backup", new_id)

    assert result.code == 1
    assert f"'{new_id}' is not an id: lowercase letters, digits and _" in result.err
    assert sorted(p.name for p in (definitions / "exports").iterdir()) == before
