"""GET /ferry/api/...: the list, an export, its runs and a run, as each user may see them."""

from __future__ import annotations


def test_list_shows_the_demo_exports_with_their_columns(web):
    answer = web.get("/ferry/api/exports")

    assert answer.status_code == 200, answer.text
    rows = {row["id"]: row for row in answer.json()["exports"]}
    assert set(rows) >= {"daily_lead_backup", "mailchimp_high_value", "daily_leads_by_source"}
    backup = rows["daily_lead_backup"]
    print(backup)
    assert backup["kind"] == "data_out"
    assert backup["permissions"] == "edit"
    assert answer.json()["broken"] == []


def test_no_token_is_401(web):
    assert web.client.get("/ferry/api/exports").status_code == 401
