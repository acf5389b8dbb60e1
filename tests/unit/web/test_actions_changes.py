"""POST /ferry/api/exports/{id}/reset (a changes-only export's next run sends every row)
and POST /ferry/api/imports/{id}/run, with the rights of the page's other actions."""

from __future__ import annotations

import csv

import pytest

from ferry import history, paths
from ferry.changes_state import StateStore
from ferry.cli.local import run_one
from ferry.run_info import RunInfo

EXPORT = "lead_changes"  # the demo's changes-only export: leads to the download area
RESET = f"/ferry/api/exports/{EXPORT}/reset"


def run(run_id: str) -> history.RunRecord:
    """One run of the export here (`ferry run --local`'s code); its record."""
    info = RunInfo(EXPORT, run_id, triggered_by="test")
    assert run_one(info, as_json=True) == 0
    return history.get_run(info.job_run_id)


def changes_sent(record: history.RunRecord) -> list[str]:
    """The _change column of every row the run delivered, parsed back from its CSV."""
    folder = paths.downloads_dir() / EXPORT / record.job_run_id
    found = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            found += [row["_change"] for row in reader]
    return found


@pytest.fixture
def delivered(web, warehouse):
    """Two runs of the export: the first sent every row, the second nothing (no change)."""
    first, second = run("manual__1"), run("manual__2")
    assert (first.outcome, second.outcome) == ("success", "empty")
    return first


def test_reset_makes_the_next_run_send_every_row_as_added(web, delivered):
    answer = web.post(RESET, user="ada")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "export_id": EXPORT, "forgot_run": "manual__2", "resets": 1,
        "said": "forgot the state of run manual__2",
    }  # fmt: skip
    after = run("manual__3")
    sent = changes_sent(after)
    assert after.rows == delivered.rows > 0
    assert sent == ["added"] * delivered.rows
    assert changes_sent(delivered) == sent  # the same as the very first run


def test_the_detail_says_changes_only_and_which_run_committed_the_state(web, delivered):
    shown = web.get(f"/ferry/api/exports/{EXPORT}?preview=false", user="vic").json()

    assert shown["changes_only"] is True
    second = history.get_run(f"{EXPORT}.manual__2")
    assert shown["changes"] == {
        "output": "column", "key": None, "committed": True, "resets": 0,
        "committed_run": "manual__2", "committed_job_run_id": f"{EXPORT}.manual__2",
        "committed_at": second.finished_at,
    }  # fmt: skip

    web.post(RESET)

    reset = web.get(f"/ferry/api/exports/{EXPORT}?preview=false").json()["changes"]
    assert (reset["committed"], reset["committed_run"], reset["resets"]) == (False, None, 1)


def test_the_list_marks_changes_only_exports(web):
    rows = {row["id"]: row for row in web.get("/ferry/api/exports").json()["exports"]}
    assert rows[EXPORT]["changes_only"] is True
    assert rows["daily_lead_backup"]["changes_only"] is False


def test_a_viewer_cannot_reset_and_the_state_stays(web, delivered):
    store = StateStore(EXPORT)
    before = store.head()

    answer = web.post(RESET, user="vic")

    assert answer.status_code == 403
    assert answer.json()["detail"] == f"vic may not change export__{EXPORT}"
    assert store.head() == before and before.state is not None


def test_reset_of_an_export_of_every_row_is_refused(web):
    answer = web.post("/ferry/api/exports/daily_lead_backup/reset")

    assert answer.status_code == 409
    assert "reset applies to changes-only exports" in answer.json()["detail"]
    assert not (paths.ferry_home() / "changes" / "daily_lead_backup").exists()


def test_reset_from_another_site_is_refused(web, delivered):
    answer = web.post(RESET, headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403
    assert StateStore(EXPORT).head().run == "manual__2"


def test_an_unknown_export_or_import_is_404_once_allowed(web):
    assert web.post("/ferry/api/exports/lead_changez/reset").status_code == 404
    answer = web.post("/ferry/api/imports/partner_leadz/run")
    assert (answer.status_code, answer.json()["detail"]) == (404, "no import 'partner_leadz'")


def test_run_import_starts_its_dag_as_the_user_and_a_viewer_cannot(web, deployed):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    assert web.post("/ferry/api/imports/partner_leads/run", user="vic").status_code == 403

    started = web.post("/ferry/api/imports/partner_leads/run", user="ada")

    assert started.status_code == 200, started.text
    shown = started.json()
    assert shown["job_run_id"] == RunInfo("partner_leads", shown["run_id"]).job_run_id
    with create_session() as session:
        found = session.query(DagRun).filter_by(dag_id="import__partner_leads").all()
        assert [(r.run_id, r.triggering_user_name) for r in found] == [(shown["run_id"], "ada")]
    [row] = web.get("/ferry/api/exports").json()["imports"]
    assert row["running"] == [shown["run_id"]]
