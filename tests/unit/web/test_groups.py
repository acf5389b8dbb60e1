"""Job groups: listed with their members in order, runs as GroupID.RunID with each member's
outcome, and Run / Stop for editors only."""

from __future__ import annotations

import datetime as dt

from ferry.run_info import RunInfo

GROUP = "nightly_customer_sync"


def test_groups_are_listed_with_members_in_order_and_rights(web):
    admin = web.get("/ferry/api/groups").json()["groups"]
    viewer = web.get("/ferry/api/groups", user="vic").json()["groups"]

    (group,) = [g for g in admin if g["id"] == GROUP]
    assert group["members"] == [
        "customer_profiles_csv",
        "daily_lead_backup",
        "mailchimp_high_value",
    ]
    assert (group["status"], group["schedule_text"]) == ("paused", "off (on demand)")
    assert group["permissions"] == "edit"
    assert [g["permissions"] for g in viewer if g["id"] == GROUP] == ["view"]


def test_a_group_run_shows_each_member_in_order_with_its_outcome(web):
    from ferry import history

    now = dt.datetime.now(dt.UTC)
    group_run_id = RunInfo(GROUP, "manual__g1").job_run_id
    for export_id, outcome in (
        ("customer_profiles_csv", "failed"),
        ("daily_lead_backup", "success"),
    ):
        run = RunInfo(export_id, "manual__g1", group_id=GROUP)
        record = history.RunRecord.ended(run, outcome, "", started_at=now, finished_at=now,
                                         group_run_id=group_run_id)  # fmt: skip
        history.record_run(record)

    answer = web.get(f"/ferry/api/groups/{GROUP}", user="vic")

    assert answer.status_code == 200, answer.text
    (run,) = answer.json()["runs"]
    assert run["group_run_id"] == group_run_id and run["outcome"] == "failed"
    assert [(m["export_id"], m["outcome"]) for m in run["members"]] == [
        ("customer_profiles_csv", "failed"), ("daily_lead_backup", "success"),
        ("mailchimp_high_value", "not run"),
    ]  # fmt: skip


def test_a_viewer_cannot_run_or_stop_a_group(web):
    for action in ("run", "stop"):
        answer = web.post(f"/ferry/api/groups/{GROUP}/{action}", user="vic")
        assert answer.status_code == 403, answer.text


def test_an_editor_runs_and_stops_a_group(web, deployed):
    started = web.post(f"/ferry/api/groups/{GROUP}/run", user="ada")
    assert started.status_code == 200, started.text
    assert web.get(f"/ferry/api/groups/{GROUP}").json()["running"] == [started.json()["run_id"]]

    stopped = web.post(f"/ferry/api/groups/{GROUP}/stop", user="ada")

    assert stopped.json() == {"stopped": [started.json()["group_run_id"]]}
    assert web.get(f"/ferry/api/groups/{GROUP}").json()["running"] == []
