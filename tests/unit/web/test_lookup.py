"""What the routes read: rights before existence, the preview, a run's validation results."""

from __future__ import annotations

import datetime as dt
import json


def test_an_unknown_export_is_404_and_a_broken_one_says_so(web):
    assert web.get("/ferry/api/exports/no_such_export", user="vic").status_code == 404
    broken = web.include / "exports" / "daily_lead_backup.yaml"
    broken.write_text(broken.read_text() + "\nnot_a_field: 1\n")

    answer = web.get("/ferry/api/exports/daily_lead_backup")

    assert answer.status_code == 404
    assert "has errors" in answer.json()["detail"]
    listed = web.get("/ferry/api/exports").json()["broken"]
    files = {b["file"]: b["error"] for b in listed}
    assert "not_a_field" in files["include/exports/daily_lead_backup.yaml"]


def test_the_export_page_has_the_resolved_definition_limits_and_preview(web, warehouse):
    answer = web.get("/ferry/api/exports/mailchimp_high_value", user="vic")

    assert answer.status_code == 200, answer.text
    export = answer.json()
    assert export["permissions"] == "view"
    assert export["definition"]["retention_days"] == 30  # a default, filled in
    assert export["limits"]["max_rows"]["value"] > 0
    preview = export["preview"]
    assert "problem" not in preview, preview
    assert preview["rows"] > 0 and preview["estimated_files"] >= 1
    assert preview["sample_rows"] > 0


def test_a_run_shows_its_manifest_validation_and_download_links(web):
    from ferry import history, paths
    from ferry.run_info import RunInfo

    run = RunInfo("daily_lead_backup", "manual__2026-02-01")
    files = [{"name": "daily_lead_backup_00001.csv", "rows": 3, "bytes": 10, "sha256": "ab" * 32,
              "kind": "data"}]  # fmt: skip
    folder = paths.downloads_dir() / "daily_lead_backup" / run.job_run_id
    folder.mkdir(parents=True)
    manifest = {
        "export_id": run.export_id, "job_run_id": run.job_run_id, "run_id": run.run_id,
        "format": "csv", "compression": "none", "files": files, "schema": [],
        "field_mapping": [], "validation": {"passed": 2, "failed": [], "warned": []},
    }  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest))
    now = dt.datetime.now(dt.UTC)
    record = history.RunRecord.ended(run, "success", "", started_at=now, finished_at=now)
    receipts = json.dumps([{"destination": "download", "type": "download", "files": []}])
    history.record_run(record.__class__(**{**record.__dict__, "staged_files": json.dumps(files),
                                           "destinations": receipts}))  # fmt: skip

    answer = web.get(f"/ferry/api/runs/{run.job_run_id}", user="vic")

    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["files"] == files
    assert shown["validation"]["passed"] == 2
    assert shown["downloads"] == [{
        "name": "daily_lead_backup_00001.csv", "bytes": 10, "sha256": "ab" * 32,
        "url": f"/ferry/api/runs/{run.job_run_id}/files/daily_lead_backup_00001.csv",
    }]  # fmt: skip
    assert web.get("/ferry/api/runs/daily_lead_backup.nope").status_code == 404
