"""Where a run is staged (ferry.staging.location): FERRY_STAGING as a local folder (the
default) or s3://[connection@]bucket[/prefix], checked with errors that name the variable,
the value and the fix, and never echo a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry import paths, pipeline, staging
from ferry.exceptions import ExportRejected
from ferry.plan import build_plan
from ferry.run_info import RunInfo
from ferry.spec.loader import load_project
from ferry.staging import Remote, RunLocation, StagingConfigError, parse_root

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s3://aws_archive@ferry-staging/runs", Remote("ferry-staging", "runs", "aws_archive")),
        ("s3://ferry-staging", Remote("ferry-staging", "", "aws_default")),
        ("s3://ferry-staging/", Remote("ferry-staging", "", "aws_default")),
        ("s3://@ferry-staging/a/b/", Remote("ferry-staging", "a/b", "aws_default")),
        ("S3://conn.x@my.bucket-1//a//b", Remote("my.bucket-1", "a/b", "conn.x")),
        (" s3://ferry-staging/runs \n", Remote("ferry-staging", "runs", "aws_default")),
    ],
)
def test_s3_urls_name_bucket_prefix_and_connection(value, expected):
    assert parse_root(value) == expected


def test_the_url_round_trips_in_objectstoragepath_form():
    remote = Remote("ferry-staging", "runs/prod", "aws_archive")
    assert remote.url == "s3://aws_archive@ferry-staging/runs/prod"
    assert parse_root(remote.url) == remote
    assert remote.object_url("manifest.json") == "s3://ferry-staging/runs/prod/manifest.json"
    assert Remote("ferry-staging").object_url() == "s3://ferry-staging/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/data/ferry/staging", Path("/data/ferry/staging")),
        ("relative/staging", Path("relative/staging")),
        ("~/staging", Path("~/staging").expanduser()),
        ("file:///data/ferry/staging", Path("/data/ferry/staging")),
        ("file://localhost/data/x", Path("/data/x")),
    ],
)
def test_local_folders_and_file_urls_are_paths(value, expected):
    assert parse_root(value) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("gs://bucket/runs", "the scheme 'gs' is not supported"),
        ("https://example.com/runs", "the scheme 'https' is not supported"),
        ("s3a://bucket/runs", "the scheme 's3a' is not supported"),
        ("s3://", "it names no bucket"),
        ("s3:///runs", "it names no bucket"),
        ("s3://aws_default@/runs", "it names no bucket"),
        ("s3://Ferry_Staging/runs", "'Ferry_Staging' is not a valid S3 bucket name"),
        ("s3://ab/runs", "'ab' is not a valid S3 bucket name"),
        ("s3://bucket/a/../b", "the prefix has '..' or '.' segments"),
        ("s3://bucket/runs?versionId=1", "a query or fragment"),
        ("file://otherhost/data", "a file URL names a folder on this machine"),
    ],
)
def test_a_bad_value_names_the_variable_the_value_and_the_fix(value, problem):
    with pytest.raises(StagingConfigError) as raised:
        parse_root(value)
    message = str(raised.value)
    assert message.startswith(f"FERRY_STAGING={value.strip()!r}: ")
    assert problem in message
    assert "Set FERRY_STAGING to a local folder" in message
    assert "s3://[connection id@]bucket[/prefix] (e.g. s3://aws_default@ferry-staging/runs)" in (
        message
    )


def test_credentials_in_the_url_are_refused_without_echoing_them():
    value = "s3://AKIAFERRYEXAMPLE:wJalrXUtnFEMI-secret@ferry-staging/runs"
    with pytest.raises(StagingConfigError) as raised:
        parse_root(value)
    message = str(raised.value)
    assert "AKIAFERRYEXAMPLE" not in message and "wJalrXUtnFEMI" not in message
    assert "FERRY_STAGING='s3://***@ferry-staging/runs'" in message
    assert "keep them in an Airflow connection" in message


def test_a_config_error_rejects_the_run_so_it_fails_at_once():
    assert issubclass(StagingConfigError, ExportRejected)


def test_unset_means_the_local_folder_under_ferry_home(monkeypatch):
    monkeypatch.delenv("FERRY_STAGING", raising=False)
    assert paths.staging_root() == str(paths.ferry_home() / "staging")
    location = staging.run_location(paths.staging_root(), "leads", "manual__2026")
    assert location == RunLocation(paths.ferry_home() / "staging" / "leads" / "manual__2026")
    assert location.url == "" and location.remote is None


def test_a_local_plan_is_staged_where_it_always_was(tmp_path):
    project = load_project(ROOT / "include")
    run = RunInfo("daily_lead_backup", "manual__2026-11-20T00:00:00+00:00")
    location = staging.run_location(str(tmp_path), run.export_id, run.safe_run_id)
    plan = build_plan(project, "daily_lead_backup", run, location)
    assert plan.staging_dir == tmp_path / "daily_lead_backup" / run.safe_run_id
    assert plan.staging_url == ""
    assert staging.remote_of(plan) is None


def test_a_remote_plan_is_cached_under_ferry_home_and_knows_its_url():
    project = load_project(ROOT / "include")
    run = RunInfo("daily_lead_backup", "manual__2026-11-20T00:00:00+00:00")
    root = "s3://aws_archive@ferry-staging/runs"
    location = staging.run_location(root, run.export_id, run.safe_run_id)
    plan = build_plan(project, "daily_lead_backup", run, location)
    safe = run.safe_run_id
    assert plan.staging_url == f"s3://aws_archive@ferry-staging/runs/daily_lead_backup/{safe}"
    assert plan.staging_dir == (
        paths.ferry_home() / "staging-cache" / "ferry-staging" / "runs" / "daily_lead_backup" / safe
    )
    remote = staging.remote_of(plan)
    assert remote == location.remote
    assert remote == Remote("ferry-staging", f"runs/daily_lead_backup/{safe}", "aws_archive")
    assert remote.key("manifest.json") == f"runs/daily_lead_backup/{safe}/manifest.json"


def test_every_step_reports_a_bad_value(monkeypatch):
    monkeypatch.setenv("FERRY_STAGING", "gs://ferry-staging/runs")
    with pytest.raises(StagingConfigError, match=r"FERRY_STAGING='gs://ferry-staging/runs'"):
        pipeline.plan_for(RunInfo("daily_lead_backup", "r1"))


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "a\\b", "a\x00b"])
def test_a_run_folder_name_that_could_point_elsewhere_is_refused(tmp_path, name):
    with pytest.raises(ValueError, match="cannot name a staging folder"):
        staging.run_location(str(tmp_path), "leads", name)
    with pytest.raises(ValueError, match="cannot name a staging folder"):
        staging.run_location("s3://aws_default@ferry-staging/runs", name, "manual__1")


def test_shared_folders_sit_beside_the_runs_under_a_name_no_export_has(monkeypatch):
    monkeypatch.setenv("FERRY_STAGING", "s3://lake@ferry-staging/runs")

    remote = staging.shared_remote(staging.DOWNLOADS_AREA, "leads", "leads.manual__1")

    assert remote == Remote("ferry-staging", "runs/_downloads/leads/leads.manual__1", "lake")
    with pytest.raises(ValueError, match="cannot name a shared folder"):
        staging.shared_remote(staging.IMPORTS_AREA, "leads", "..")
    monkeypatch.setenv("FERRY_STAGING", "/data/staging")
    assert staging.shared_remote(staging.DOWNLOADS_AREA, "leads", "leads.r") is None
