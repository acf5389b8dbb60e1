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
    assert answer.status_code == 200
    assert answer.json() == {"exports": [], "imports": [], "broken": []}
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


def record_import_run(
    run_id: str = "scheduled__2026-04-01T00:00:00+00:00", rejects_file: str | None = None
):
    """A merge of 20 rows (10 inserted, 10 updated) as finalize records it."""
    from ferry import history
    from ferry.run_info import RunInfo

    end = dt.datetime(2026, 4, 1, 0, 5, tzinfo=dt.UTC)
    result = {"rows_read": 20, "inserted": 10, "updated": 10, "deleted": 0, "rejected": 0,
              "skipped_files": [], "rejects_file": rejects_file,
              "already_loaded": False}  # fmt: skip
    files = [{"name": "leads_20260401.csv", "location": "drop/partner/leads_20260401.csv",
              "size": 1670, "modified": end.isoformat(), "sha256": "a" * 64}]  # fmt: skip
    record = history.RunRecord.imported(
        RunInfo("partner_leads", run_id, triggered_by="scheduler"),
        {"table": "lead", "mode": "merge", "files": files, "result": result},
        started_at=end - dt.timedelta(minutes=5), finished_at=end,
    )  # fmt: skip
    history.record_run(record)
    return record


def test_the_list_shows_the_imports_beside_the_exports(web, deployed):
    record_import_run()

    answer = web.get("/ferry/api/exports", user="vic")

    assert answer.status_code == 200, answer.text
    assert "partner_leads" not in {row["id"] for row in answer.json()["exports"]}
    [row] = answer.json()["imports"]
    assert {k: row[k] for k in ("id", "kind", "mode", "table", "connections", "owner")} == {
        "id": "partner_leads", "kind": "import", "mode": "merge", "table": "lead",
        "connections": ["folder"], "owner": "data-platform",
    }  # fmt: skip
    assert (row["status"], row["schedule_text"], row["permissions"]) == (
        "active", "daily at 00:00 (UTC)", "view",
    )  # fmt: skip
    assert row["next_run"].startswith("20") and row["running"] == []
    assert (row["last_run"]["outcome"], row["last_run"]["rows"]) == ("success", 20)
    assert row["source_type"] == "folder"
    counts = {k: row["last_run"][k] for k in ("inserted", "updated", "deleted", "rejected")}
    assert counts == {"inserted": 10, "updated": 10, "deleted": 0, "rejected": 0}


def test_an_import_run_shows_what_it_loaded_and_no_downloads(web):
    record = record_import_run()

    answer = web.get(f"/ferry/api/runs/{record.job_run_id}", user="vic")

    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert (shown["kind"], shown["rows"], shown["inserted"], shown["updated"]) == (
        "import", 20, 10, 10,
    )  # fmt: skip
    assert (shown["destinations"], shown["downloads"], shown["validation"]) == (
        ["table lead"], [], None,
    )  # fmt: skip
    assert shown["rejects_file"] is None
    runs = web.get("/ferry/api/exports/partner_leads/runs", user="vic").json()["runs"]
    assert [r["job_run_id"] for r in runs] == [record.job_run_id]


def test_an_import_runs_rights_are_its_dags(web, auth_manager):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    record = record_import_run()
    web.tokens["nobody"] = auth_manager.generate_jwt(
        SimpleAuthManagerUser(username="nobody", role=None)
    )
    assert web.get(f"/ferry/api/runs/{record.job_run_id}", user="nobody").status_code == 403
    assert web.get("/ferry/api/exports/partner_leads/runs", user="nobody").status_code == 403


def test_an_import_runs_rejects_file_is_named_where_the_worker_keeps_it(web):
    from ferry import paths

    written = paths.ferry_home() / "imports" / "partner_leads" / "scheduled__1" / "rejects.csv"
    record = record_import_run("scheduled__1", rejects_file=str(written))

    shown = web.get(f"/ferry/api/runs/{record.job_run_id}", user="vic").json()

    assert shown["rejects_file"] == {
        "name": "rejects.csv", "downloadable": False,
        "location": "$FERRY_HOME/imports/partner_leads/scheduled__1/rejects.csv",
    }  # fmt: skip
    assert shown["downloads"] == []  # not in the download area: no link to it
