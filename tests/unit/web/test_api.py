"""GET /ferry/api/...: the list, an export, its runs and a run, as each user may see them."""

from __future__ import annotations

import datetime as dt


def test_list_shows_the_demo_exports_with_their_columns(web, deployed):
    answer = web.get("/ferry/api/exports")

    assert answer.status_code == 200, answer.text
    rows = {row["id"]: row for row in answer.json()["exports"]}
    assert set(rows) == {"customer_profiles_csv", "daily_lead_backup", "daily_leads_by_source",
                         "linkedin_enterprise_accounts", "mailchimp_high_value",
                         "lead_changes"}  # fmt: skip
    backup = rows["daily_lead_backup"]
    assert (backup["kind"], backup["owner"], backup["target"]) == (
        "data_out",
        "data-platform",
        "download",
    )
    assert backup["connections"] == ["ferry_warehouse"]
    assert backup["schedule_text"] == "daily at 02:00 (UTC)"
    assert (backup["last_run"], backup["permissions"]) == (None, "edit")
    assert (rows["mailchimp_high_value"]["kind"], rows["mailchimp_high_value"]["target"]) == (
        "segment", "mailchimp",
    )  # fmt: skip
    assert rows["daily_leads_by_source"]["kind"] == "report"
    assert rows["customer_profiles_csv"]["next_run"] == "after refresh"
    assert backup["next_run"].startswith("20") and backup["status"] == "active"
    assert answer.json()["broken"] == []


def test_a_viewer_sees_view_and_a_user_without_a_role_sees_nothing(web, auth_manager):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    viewer = web.get("/ferry/api/exports", user="vic").json()["exports"]
    assert {row["permissions"] for row in viewer} == {"view"}

    web.tokens["nobody"] = auth_manager.generate_jwt(
        SimpleAuthManagerUser(username="nobody", role=None)
    )
    answer = web.get("/ferry/api/exports", user="nobody")
    assert answer.status_code == 200 and answer.json() == {"exports": [], "broken": []}
    assert web.get("/ferry/api/exports/daily_lead_backup", user="nobody").status_code == 403
    assert web.get("/ferry/api/exports/daily_lead_backup/runs", user="nobody").status_code == 403


def test_no_token_is_401(web):
    assert web.client.get("/ferry/api/exports").status_code == 401


def test_runs_are_listed_newest_first_with_their_columns(web):
    from ferry import history
    from ferry.run_info import RunInfo

    for day in (1, 3, 2):
        end = dt.datetime(2026, 4, day, 2, 5, tzinfo=dt.UTC)
        run = RunInfo("daily_lead_backup", f"scheduled__2026-04-0{day}", triggered_by="scheduler")
        history.record_run(history.RunRecord.ended(
            run, "failed", "boom", started_at=end - dt.timedelta(minutes=5), finished_at=end,
            log_url=f"http://airflow/run/{day}",
        ))  # fmt: skip

    runs = web.get("/ferry/api/exports/daily_lead_backup/runs", user="vic").json()["runs"]

    assert [r["run_id"][-2:] for r in runs] == ["03", "02", "01"]
    assert {k: runs[0][k] for k in ("triggered_by", "duration_s", "outcome", "log_url")} == {
        "triggered_by": "scheduler", "duration_s": 300.0, "outcome": "failed",
        "log_url": "http://airflow/run/3",
    }  # fmt: skip
    assert set(runs[0]) >= {"job_run_id", "started_at", "rows", "files", "bytes", "destinations"}
