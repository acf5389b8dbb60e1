"""The issue's "done when", as a team does it: a Postgres table of its own, a connection,
`ferry tables import`, an export written by hand, `ferry run --local`, the file delivered."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from pathlib import Path

import pytest

from cli_runner import run_ferry
from ferry import history, paths
from include_copy import copy_include

pytestmark = pytest.mark.integration
KEY = "team-pii-key-0123"
PEOPLE = """
DROP SCHEMA IF EXISTS crm CASCADE;
CREATE SCHEMA crm;
CREATE TABLE crm.people (person_id bigint PRIMARY KEY, email text, country text,
                         score numeric(10,2), updated_at timestamptz);
INSERT INTO crm.people
SELECT g, 'Person' || g || '@Example.com', CASE WHEN g % 3 = 0 THEN 'DE' ELSE 'US' END,
       g * 1.25, timestamptz '2026-11-01 00:00:00+00' + g * interval '1 hour'
FROM generate_series(1, 500) g;
"""
EXPORT = """\
id: crm_people_de
name: German people for the CRM
source: {table: people}
fields: [person_id, email, country, score]
pii: {email: hash}
filters:
  where: [{field: country, op: eq, value: DE}]
format: {type: csv}
destinations: [{type: download}]
"""


def test_a_team_exports_its_own_postgres_table_after_importing_its_schema(
    postgres, tmp_path: Path, monkeypatch, warehouse
):
    postgres.execute(PEOPLE)
    include = copy_include(tmp_path)
    for name, value in (("FERRY_INCLUDE", include), ("FERRY_HOME", tmp_path / "home"),
                        ("FERRY_WAREHOUSE", warehouse)):  # fmt: skip
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv(*postgres.connection("crm"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_FERRY_PII", json.dumps({"conn_type": "generic", "password": KEY})
    )

    imported = run_ferry("tables", "import", "--connection", "crm", "--schema", "crm")
    assert imported.code == 0, imported.err
    (include / "exports" / "crm_people_de.yaml").write_text(EXPORT)
    assert run_ferry("validate").code == 0
    ran = run_ferry("run", "crm_people_de", "--local", "--json")

    assert ran.code == 0, ran.err
    summary = json.loads(ran.out.strip().splitlines()[-1])
    record = history.get_run(summary["job_run_id"])
    [data] = [f["name"] for f in json.loads(record.staged_files) if f["kind"] == "data"]
    delivered = paths.downloads_dir() / "crm_people_de" / summary["job_run_id"] / data
    rows = list(csv.DictReader(io.StringIO(delivered.read_text(encoding="utf-8"))))
    expected = [g for g in range(1, 501) if g % 3 == 0]
    assert [int(row["person_id"]) for row in rows] == expected
    assert rows[0] == {
        "person_id": "3", "country": "DE", "score": "3.75",
        "email": hmac.new(KEY.encode(), b"Person3@Example.com", hashlib.sha256).hexdigest(),
    }  # fmt: skip
    assert KEY not in postgres.log()
