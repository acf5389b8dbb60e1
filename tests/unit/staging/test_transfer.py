"""Moving a run's files (ferry.staging.transfer). Remote staging runs against moto's S3
server in tests/integration/test_staging_s3.py; here, local staging (which moves nothing) and
the checks of a fetched manifest."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def test_local_staging_moves_nothing_and_loads_no_s3_code(tmp_path):
    """fetch, publish and the manifest readers pass straight through, importing no boto.

    (Airflow is loaded: plan_for asks it for the table's connection, to know its dialect.)"""
    script = """
import json, sys
from pathlib import Path
from ferry import pipeline, staging
from ferry.manifest import Manifest
from ferry.run_info import RunInfo

plan = pipeline.plan_for(RunInfo("daily_lead_backup", "r1"))
plan.staging_dir.mkdir(parents=True)
manifest = Manifest("daily_lead_backup", "daily_lead_backup.r1", "r1", "csv", "none", [], [], [])
assert staging.staged_manifest(plan) is None
manifest.write(plan.staging_dir)
staging.publish(plan, manifest)
staging.publish_manifest(plan)
staging.publish_folder(plan, "deliveries/download")
assert staging.fetch(plan) == plan.staging_dir
assert staging.read_staged_manifest(plan) == manifest == staging.staged_manifest(plan)
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"boto3", "botocore"})
print(json.dumps({"loaded": loaded, "files": sorted(p.name for p in plan.staging_dir.iterdir())}))
"""
    env = {**os.environ, "FERRY_HOME": str(tmp_path), "FERRY_STAGING": str(tmp_path / "st")}
    env.pop("AIRFLOW_CONN_AWS_DEFAULT", None)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"loaded": [], "files": ["manifest.json"]}
    assert not (tmp_path / "staging-cache").exists()


def test_a_fetched_manifest_naming_a_file_outside_the_run_is_refused_naming_its_url():
    from ferry.staging import Remote, StagingError
    from ferry.staging.transfer import _parse_manifest

    remote = Remote("ferry-staging", "runs/leads/manual__1")
    entry = {"name": "../../other/leads.csv", "rows": 1, "bytes": 3, "sha256": "0" * 64}
    body = json.dumps(
        {"export_id": "leads", "job_run_id": "leads.manual__1", "run_id": "manual__1",
         "format": "csv", "compression": "none", "files": [entry], "schema": [],
         "field_mapping": []}
    ).encode()  # fmt: skip
    with pytest.raises(StagingError) as raised:
        _parse_manifest(body, remote)
    assert str(raised.value) == (
        "s3://ferry-staging/runs/leads/manual__1/manifest.json names a file outside the run: "
        "'../../other/leads.csv'"
    )
    assert raised.value.retryable is False
    with pytest.raises(StagingError, match=r"manifest\.json is not a Ferry manifest"):
        _parse_manifest(b"{}", remote)
