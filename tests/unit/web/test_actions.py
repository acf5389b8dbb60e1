"""POST/DELETE /ferry/api/...: each action as an editor does it, and refused to a viewer."""

from __future__ import annotations

import pytest

from cli_runner import COMMENT

ACTIONS = [
    ("post", "/ferry/api/exports/daily_lead_backup/run", None),
    ("post", "/ferry/api/exports/daily_lead_backup/stop", None),
    ("post", "/ferry/api/exports/daily_lead_backup/duplicate", {"new_id": "copy_one"}),
    ("post", "/ferry/api/exports/daily_lead_backup/detach", None),
    ("delete", "/ferry/api/exports/daily_lead_backup", None),
    ("put", "/ferry/api/exports/daily_lead_backup/definition", {"yaml": "id: x\n"}),
    ("post", "/ferry/api/exports/run-all", {"ids": ["daily_lead_backup"]}),
    ("post", "/ferry/api/exports/run-all", None),
    (
        "post",
        "/ferry/api/exports/schedule",
        {"ids": ["daily_lead_backup"], "mode": "override", "schedule": "@daily", "active": True},
    ),
    ("post", "/ferry/api/exports/lead_changes/reset", None),
    ("post", "/ferry/api/imports/partner_leads/run", None),
]


def export_file(web, export_id: str):
    return web.include / "exports" / f"{export_id}.yaml"


@pytest.mark.parametrize(("method", "path", "body"), ACTIONS)
def test_a_viewer_gets_403_for_every_action_and_nothing_changes(web, method, path, body):
    before = {p.name: p.read_text() for p in (web.include / "exports").glob("*.yaml")}

    answer = getattr(web, method)(path, user="vic", **({"json": body} if body else {}))

    assert answer.status_code == 403, answer.text
    assert "vic may not" in answer.json()["detail"]
    assert {p.name: p.read_text() for p in (web.include / "exports").glob("*.yaml")} == before


def test_a_page_of_another_site_cannot_act_with_the_cookie(web):
    answer = web.post(
        "/ferry/api/exports/daily_lead_backup/detach", headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert answer.status_code == 403


def test_duplicate_writes_an_inactive_copy_keeping_comments(web):
    answer = web.post("/ferry/api/exports/daily_lead_backup/duplicate", json={})

    assert answer.status_code == 200, answer.text
    assert answer.json()["exports"] == ["daily_lead_backup_copy"]
    copy = export_file(web, "daily_lead_backup_copy").read_text()
    assert copy.startswith(COMMENT)
    assert "enabled: false" in copy and "name: Copy of Daily lead backup" in copy
    listed = {row["id"]: row for row in web.get("/ferry/api/exports").json()["exports"]}
    assert listed["daily_lead_backup_copy"]["status"] == "paused"


def test_schedule_override_sets_one_schedule_keep_only_switches(web):
    ids = ["daily_lead_backup", "mailchimp_high_value"]
    before = export_file(web, "mailchimp_high_value").read_text()

    kept = web.post(
        "/ferry/api/exports/schedule", json={"ids": ids, "mode": "keep", "active": False}
    )
    assert kept.status_code == 200, kept.text
    rows = {r["id"]: r for r in web.get("/ferry/api/exports").json()["exports"]}
    assert rows["daily_lead_backup"]["schedule"] == "0 2 * * *"
    assert rows["mailchimp_high_value"]["status"] == "paused"

    body = {"ids": ids, "mode": "override", "schedule": "weekly", "active": True}
    overridden = web.post("/ferry/api/exports/schedule", json=body)
    assert overridden.status_code == 200, overridden.text
    rows = {r["id"]: r for r in web.get("/ferry/api/exports").json()["exports"]}
    assert {rows[i]["schedule"] for i in ids} == {"@weekly"}
    assert {rows[i]["status"] for i in ids} == {"active"}
    after = export_file(web, "mailchimp_high_value").read_text()
    assert after.startswith(COMMENT)
    assert len(after.splitlines()) - len(before.splitlines()) == 1  # enabled: true, added


def test_a_schedule_that_is_not_one_is_refused_and_nothing_changes(web):
    before = export_file(web, "daily_lead_backup").read_text()
    body = {"ids": ["daily_lead_backup"], "mode": "override", "schedule": "sometimes"}

    answer = web.post("/ferry/api/exports/schedule", json=body)

    assert answer.status_code == 409
    assert "is not a schedule" in answer.json()["detail"]
    assert export_file(web, "daily_lead_backup").read_text() == before


def test_detach_shows_no_connection_and_undo_restores(web):
    answer = web.post("/ferry/api/exports/mailchimp_high_value/detach")

    assert answer.status_code == 200, answer.text
    row = _row(web, "mailchimp_high_value")
    assert (row["status"], row["connections"]) == ("detached", ["No connection"])
    assert export_file(web, "mailchimp_high_value").read_text().startswith(COMMENT)
    web.post("/ferry/api/exports/mailchimp_high_value/detach", json={"undo": True})
    assert _row(web, "mailchimp_high_value")["status"] == "active"


def _row(web, export_id: str) -> dict:
    rows = web.get("/ferry/api/exports").json()["exports"]
    return next(row for row in rows if row["id"] == export_id)


def test_remove_deletes_the_definition_and_keeps_its_history(web):
    from ferry import history
    from ferry.run_info import RunInfo

    export = "daily_leads_by_source"
    _record(history, RunInfo(export, "manual__2026-01-01"))

    answer = web.delete(f"/ferry/api/exports/{export}")

    assert answer.status_code == 200, answer.text
    assert answer.json()["files"] == [f"include/exports/{export}.yaml"]
    assert not export_file(web, export).exists()
    assert export not in {r["id"] for r in web.get("/ferry/api/exports").json()["exports"]}
    runs = web.get(f"/ferry/api/exports/{export}/runs").json()["runs"]
    assert [r["job_run_id"] for r in runs] == [f"{export}.manual__2026-01-01"]


def test_removing_a_group_member_is_refused_naming_the_group(web):
    answer = web.delete("/ferry/api/exports/daily_lead_backup")

    assert answer.status_code == 409
    assert "member of group nightly_customer_sync" in answer.json()["detail"]
    assert export_file(web, "daily_lead_backup").exists()


def _record(history, run) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    history.record_run(
        history.RunRecord.ended(run, "failed", "test", started_at=now, finished_at=now)
    )


def test_run_starts_a_run_in_airflow_as_the_user_and_stop_stops_it(web, deployed):
    started = web.post("/ferry/api/exports/daily_lead_backup/run", user="ada")

    assert started.status_code == 200, started.text
    run_id = started.json()["run_id"]
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = (
            session.query(DagRun).filter_by(dag_id="export__daily_lead_backup", run_id=run_id).one()
        )
        assert (run.state, run.triggering_user_name) == ("queued", "ada")
    assert _row(web, "daily_lead_backup")["running"] == [run_id]
    assert started.json()["note"] == ""

    stopped = web.post("/ferry/api/exports/daily_lead_backup/stop", user="ada")

    assert stopped.status_code == 200, stopped.text
    with create_session() as session:
        run = (
            session.query(DagRun).filter_by(dag_id="export__daily_lead_backup", run_id=run_id).one()
        )
        assert run.state == "failed"
    record = web.get(f"/ferry/api/runs/{started.json()['job_run_id']}").json()
    assert record["outcome"] == "stopped" and "by ada" in record["reason"]


def test_run_all_runs_only_exports_whose_schedule_is_active(web, deployed):
    web.post("/ferry/api/exports/schedule", json={"ids": ["mailchimp_high_value"], "active": False})

    answer = web.post("/ferry/api/exports/run-all")

    assert answer.status_code == 200, answer.text
    started = {run["export_id"] for run in answer.json()["started"]}
    skipped = {s["export_id"]: s["reason"] for s in answer.json()["skipped"]}
    assert "mailchimp_high_value" in skipped and "mailchimp_high_value" not in started
    assert "daily_lead_backup" in started


def test_editing_the_text_keeps_it_only_if_it_loads(web):
    path = export_file(web, "daily_lead_backup")
    before = path.read_text()
    url = "/ferry/api/exports/daily_lead_backup/definition"

    bad = web.client.put(url, headers=web.headers("admin"), json={"yaml": before + "colour: red\n"})
    assert bad.status_code == 409 and "colour" in bad.json()["detail"]
    assert path.read_text() == before
    renamed = before.replace("id: daily_lead_backup", "id: other_id")
    assert (
        web.client.put(url, headers=web.headers("admin"), json={"yaml": renamed}).status_code == 409
    )

    edited = before.replace("name: Daily lead backup", "name: Nightly lead backup")
    good = web.client.put(url, headers=web.headers("admin"), json={"yaml": edited})
    assert good.status_code == 200, good.text
    assert path.read_text().startswith(COMMENT)
    assert _row(web, "daily_lead_backup")["name"] == "Nightly lead backup"
    assert web.client.put(url, headers=web.headers("vic"), json={"yaml": before}).status_code == 403


def test_running_a_switched_off_export_says_the_run_waits(web, deployed):
    from ferry.web import airflow_state

    airflow_state.set_paused("export__daily_lead_backup", True)
    started = web.post("/ferry/api/exports/daily_lead_backup/run")

    assert started.status_code == 200, started.text
    assert "paused in Airflow: the run waits" in started.json()["note"]
    airflow_state.set_paused("export__daily_lead_backup", False)
