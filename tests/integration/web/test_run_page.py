"""A run's page in a real browser: opened from its export's page, its files as the manifest
lists them, and a download (Playwright's download API) whose bytes match the manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from ferry import paths

from .conftest import RUN_EXPORT
from .exports_page import export_page, run_page

pytestmark = pytest.mark.integration


def manifest_of(job_run_id: str) -> dict:
    """The manifest the run wrote into the download area (the files' truth)."""
    return json.loads(
        (paths.downloads_dir() / RUN_EXPORT / job_run_id / "manifest.json").read_text()
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def test_a_run_opened_from_its_export_lists_the_manifests_files(admin_page, site, finished_run):
    page = export_page(admin_page, RUN_EXPORT)

    page.locator(f"#runs tr[data-job-run-id='{finished_run}'] a").first.click()
    page.wait_for_url(f"**/ferry/runs/{quote(finished_run, safe='')}")
    page.locator("#files tbody tr").first.wait_for()

    shown = page.locator("#files").inner_text()
    for listed in manifest_of(finished_run)["files"]:
        assert listed["name"] in shown and listed["sha256"] in shown


def test_a_downloaded_file_has_the_manifests_sha256_and_is_in_the_audit(
    admin_page, site, finished_run
):
    from ferry.history_downloads import list_downloads  # web-downloads' audit

    page = run_page(admin_page, finished_run)
    [data] = [f for f in manifest_of(finished_run)["files"] if f["kind"] == "data"]

    with page.expect_download() as started:
        page.locator("a.download", has_text=data["name"]).click()
    download = started.value

    assert download.failure() is None
    assert download.suggested_filename == data["name"]
    saved = Path(download.path())
    assert saved.stat().st_size == data["bytes"]
    assert sha256_of(saved) == data["sha256"]
    audit = [(d.username, d.file, d.bytes, d.status) for d in list_downloads(finished_run)]
    assert ("admin", data["name"], data["bytes"], 200) in audit
