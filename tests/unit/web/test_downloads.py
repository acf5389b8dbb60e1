"""GET /ferry/api/runs/{JobID.RunID}/files/{name}: a file delivered by a real local run,
fetched through Airflow's simple auth manager as admin, viewer and a user without a role."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time

import pytest
from fastapi.testclient import TestClient

from cli_runner import run_ferry
from ferry import history, paths
from ferry.history_downloads import list_downloads
from ferry.manifest import MANIFEST_NAME, read_manifest

EXPORT = "customer_profiles_csv"  # the demo's export with a download destination
DAY = 24 * 3600


@pytest.fixture(scope="module")
def delivered(warehouse, auth_app):
    """(job_run_id, its download folder, its manifest) of `ferry run EXPORT --local`."""
    result = run_ferry("run", EXPORT, "--local")
    assert result.code == 0, result.err
    job_run_id = history.list_runs(EXPORT, 1)[0].job_run_id
    assert job_run_id in result.out
    folder = paths.downloads_dir() / EXPORT / job_run_id
    return job_run_id, folder, read_manifest(folder)


@pytest.fixture(scope="module")
def client(auth_app) -> TestClient:
    return TestClient(auth_app)


def token(client: TestClient, user: str) -> dict[str, str]:
    answer = client.post("/auth/token", json={"username": user, "password": f"{user}-secret"})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def url(job_run_id: str, name: str) -> str:
    return f"/ferry/api/runs/{job_run_id}/files/{name}"


def data_file(manifest):
    return manifest.data_files[0]


def copy_run(delivered, suffix: str) -> tuple[str, object]:
    """A second delivered run (a copy of the first) to change without touching the first."""
    job_run_id, folder, _ = delivered
    copy_id = f"{job_run_id}{suffix}"
    copy = folder.with_name(copy_id)
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(folder, copy)
    return copy_id, copy


def test_the_whole_file_streams_with_the_manifests_sha256_and_is_audited(delivered, client):
    job_run_id, _, manifest = delivered
    staged = data_file(manifest)

    answer = client.get(url(job_run_id, staged.name), headers=token(client, "admin"))

    assert answer.status_code == 200
    assert hashlib.sha256(answer.content).hexdigest() == staged.sha256
    assert answer.headers["content-length"] == str(staged.bytes)
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["etag"] == f'"{staged.sha256}"'
    assert answer.headers["content-disposition"] == f'attachment; filename="{staged.name}"'
    audit = list_downloads(job_run_id, limit=1)[0]
    assert (audit.username, audit.file, audit.bytes, audit.range, audit.status) == (
        "admin", staged.name, staged.bytes, "", 200,
    )  # fmt: skip
    assert audit.export_id == EXPORT


def test_the_manifest_itself_can_be_fetched(delivered, client):
    job_run_id, _, manifest = delivered

    answer = client.get(url(job_run_id, MANIFEST_NAME), headers=token(client, "viewer"))

    assert answer.status_code == 200
    assert json.loads(answer.content)["job_run_id"] == manifest.job_run_id


def test_ranges_resume_a_download_and_rebuild_the_same_bytes(delivered, client):
    job_run_id, _, manifest = delivered
    staged, viewer = data_file(manifest), token(client, "viewer")
    middle = staged.bytes // 2

    target = url(job_run_id, staged.name)
    first = client.get(target, headers={**viewer, "Range": f"bytes=0-{middle - 1}"})
    rest = client.get(target, headers={**viewer, "Range": f"bytes={middle}-"})
    tail = client.get(target, headers={**viewer, "Range": "bytes=-10"})

    assert (first.status_code, rest.status_code, tail.status_code) == (206, 206, 206)
    assert first.headers["content-range"] == f"bytes 0-{middle - 1}/{staged.bytes}"
    assert rest.headers["content-range"] == f"bytes {middle}-{staged.bytes - 1}/{staged.bytes}"
    assert hashlib.sha256(first.content + rest.content).hexdigest() == staged.sha256
    assert tail.content == (first.content + rest.content)[-10:]
    newest = list_downloads(job_run_id, limit=3)
    assert (newest[0].username, newest[0].status, newest[0].bytes) == ("viewer", 206, 10)
    ranges = {d.range for d in newest}
    assert ranges == {f"bytes=0-{middle - 1}/{staged.bytes}",
                      f"bytes={middle}-{staged.bytes - 1}/{staged.bytes}",
                      f"bytes={staged.bytes - 10}-{staged.bytes - 1}/{staged.bytes}"}  # fmt: skip


@pytest.mark.parametrize(
    "asked", ["bytes=999999999-", "bytes=9-2", "bytes=0-1,4-5", "items=0-1", "bytes=-0", "bytes=-"]
)
def test_a_range_the_file_cannot_satisfy_is_416_with_its_size(delivered, client, asked):
    job_run_id, _, manifest = delivered
    staged = data_file(manifest)
    before = len(list_downloads(job_run_id, limit=1000))

    answer = client.get(
        url(job_run_id, staged.name), headers={**token(client, "viewer"), "Range": asked}
    )

    assert answer.status_code == 416, answer.text
    assert answer.headers["content-range"] == f"bytes */{staged.bytes}"
    assert len(list_downloads(job_run_id, limit=1000)) == before  # nothing was served


def test_without_a_token_or_with_a_forged_one_nothing_is_served(delivered, client):
    job_run_id, _, manifest = delivered
    target = url(job_run_id, data_file(manifest).name)

    assert client.get(target).status_code == 401
    forged = client.get(target, headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 403


def test_a_user_the_auth_manager_refuses_gets_403_before_any_file_is_looked_at(delivered, client):
    job_run_id, _, manifest = delivered
    nobody = token(client, "nobody")  # a configured user without a role

    served = client.get(url(job_run_id, data_file(manifest).name), headers=nobody)
    unknown = client.get(url("customer_profiles_csv.no_such_run", "x.csv"), headers=nobody)

    assert served.status_code == 403
    assert served.json()["detail"] == "nobody may not read export__customer_profiles_csv"
    assert unknown.status_code == 403  # whether a run exists is not told either
    assert all(d.username != "nobody" for d in list_downloads(limit=1000))


def test_unknown_runs_and_files_are_404(delivered, client):
    job_run_id, folder, _ = delivered
    admin = token(client, "admin")
    (folder / "notes.txt").write_text("not delivered by the run")
    try:
        answers = {
            "unknown run": client.get(url(f"{EXPORT}.manual__nothing", "a.csv"), headers=admin),
            "unknown file": client.get(url(job_run_id, "other.csv"), headers=admin),
            "not in manifest": client.get(url(job_run_id, "notes.txt"), headers=admin),
        }
    finally:
        (folder / "notes.txt").unlink()
    assert {what: a.status_code for what, a in answers.items()} == dict.fromkeys(answers, 404)
    assert "delivered no file 'notes.txt'" in answers["not in manifest"].json()["detail"]


@pytest.mark.parametrize(
    ("run", "name"),
    [
        ("{run}", ".."),
        ("{run}", "%2E%2E"),
        ("{run}", "..%2F..%2F..%2Fetc%2Fpasswd"),
        ("{run}", "%2Fetc%2Fpasswd"),
        ("{run}", ".manifest.json.tmp"),
        ("..", "manifest.json"),
        ("{export}.%2E%2E", "manifest.json"),
        ("{export}.x%2F..%2F..", "manifest.json"),
        ("..%2F..%2Fairflow", "manifest.json"),
        ("Customer.x", "manifest.json"),
    ],
)
def test_path_escapes_are_404(delivered, client, run, name):
    job_run_id, _, _ = delivered
    target = url(run.format(run=job_run_id, export=EXPORT), name)

    answer = client.get(target, headers=token(client, "admin"))

    assert answer.status_code == 404, answer.text


def test_symlinks_are_never_followed(delivered, client, tmp_path):
    _, _, manifest = delivered
    staged, admin = data_file(manifest), token(client, "admin")
    secret = tmp_path / "secret.csv"
    secret.write_text("outside the download area")
    linked_file, folder = copy_run(delivered, "_linkedfile")
    (folder / staged.name).unlink()
    (folder / staged.name).symlink_to(secret)
    linked_run = f"{linked_file[: -len('_linkedfile')]}_linkedrun"
    shutil.rmtree(folder.with_name(linked_run), ignore_errors=True)
    folder.with_name(linked_run).symlink_to(folder.with_name(delivered[0]))

    assert client.get(url(linked_file, staged.name), headers=admin).status_code == 404
    assert client.get(url(linked_run, staged.name), headers=admin).status_code == 404


def test_a_file_past_its_retention_is_gone_even_before_the_purge(delivered, client):
    _, _, manifest = delivered
    old_run, folder = copy_run(delivered, "_old")
    delivered_at = time.time() - 31 * DAY  # customer_profiles_csv keeps 30 days (default)
    os.utime(folder / MANIFEST_NAME, (delivered_at, delivered_at))

    answer = client.get(url(old_run, data_file(manifest).name), headers=token(client, "admin"))

    assert answer.status_code == 410
    assert "expired on" in answer.json()["detail"]
    assert "keeps downloads 30 days (retention_days)" in answer.json()["detail"]


def test_a_purged_run_is_gone_not_unknown(delivered, client):
    job_run_id, folder, manifest = delivered
    aside = folder.with_name(".aside")
    folder.rename(aside)
    try:
        target = url(job_run_id, data_file(manifest).name)
        answer = client.get(target, headers=token(client, "admin"))
    finally:
        aside.rename(folder)

    assert answer.status_code == 410
    assert f"the files of run {job_run_id} were deleted" in answer.json()["detail"]


def test_ferry_history_downloads_shows_who_fetched_what(delivered, client):
    job_run_id, _, manifest = delivered
    staged = data_file(manifest)
    client.get(url(job_run_id, staged.name), headers=token(client, "viewer"))

    shown = run_ferry("history", "--downloads", EXPORT)

    assert shown.code == 0, shown.err
    titles, newest = shown.out.splitlines()[:2]
    assert titles.split() == ["AT", "USER", "RUN", "FILE", "BYTES", "RANGE"]
    assert newest.split()[3:] == ["viewer", job_run_id, staged.name, str(staged.bytes), "all"]
