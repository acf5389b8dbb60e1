"""One local Celery deployment (ferry.cluster) for the session: Postgres, Redis, moto S3,
Airflow's API server, scheduler, DAG processor, triggerer and two Celery workers.

It gets its own include/ (the demo's definitions plus CELERY_EXPORT, an export of
`lead_many`, 2,000,000 leads, slow enough to kill a worker in the middle of its extract)
and its own copy of the warehouse with that table. As with scripts/start, the scheduled
demo exports run their latest interval at start. Started once (under a minute) for the
tests of this folder; stopped after them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from ferry import devserver
from ferry.airflow_api import AirflowClient
from ferry.cluster.deployment import Deployment
from include_copy import copy_include
from integration.conftest import LOG_TAIL_LINES

from .runs import DELIVERED_BUCKET

PASSWORD = "ferry-celery-test"
CELERY_EXPORT = "celery_many_leads"  # the worker killed in the middle of its extract
OUTAGE_EXPORT = "celery_outage_leads"  # S3 stopped in the middle of its run
MANY_LEADS = 100  # copies of each demo lead in lead_many


def definition(export_id: str, folder: str, retries: int = 2) -> str:
    """An export of lead_many to the delivered bucket, in folder/<run time>/."""
    return f"""\
id: {export_id}
name: Many leads, delivered to S3 from the Celery deployment
source: {{table: lead_many}}
fields: [lead_id, state, source, created_at]
format: {{type: csv, compression: gzip, rows_per_file: 100000}}
destinations:
  - {{type: s3, connection: ferry_staging, bucket: {DELIVERED_BUCKET},
     path: "{folder}/{{{{ ts_nodash }}}}/{{{{ file }}}}"}}
schedule: "off"
retries: {retries}
"""


# package scope: up once for these tests, and stopped right after them, not idling through
# the rest of the session
@pytest.fixture(scope="package")
def celery_deployment(warehouse: Path) -> Iterator[Deployment]:
    # not tmp_path_factory: pytest sessions of the same user prune each other's old basetemps
    folder = Path(tempfile.mkdtemp(prefix="ferry-celery-tests-"))
    include = copy_include(folder)
    add_many_leads(include, shutil.copyfile(warehouse, folder / "warehouse.duckdb"))
    exports = {
        CELERY_EXPORT: definition(CELERY_EXPORT, "many_leads"),
        # one retry: S3 stays down through both tries, so the run fails and says why
        OUTAGE_EXPORT: definition(OUTAGE_EXPORT, "outage", retries=1),
    }
    for export_id, text in exports.items():
        (include / "exports" / f"{export_id}.yaml").write_text(text)
    deployment = Deployment(
        folder / "state", devserver.free_port(), PASSWORD,
        settings={
            "FERRY_INCLUDE": str(include),
            "FERRY_WAREHOUSE": str(folder / "warehouse.duckdb"),
        },
    )  # fmt: skip
    try:
        deployment.startup_seconds = deployment.start()
        deployment.s3.client().create_bucket(Bucket=DELIVERED_BUCKET)
        yield deployment
    finally:
        deployment.stop()
        if os.environ.get("FERRY_KEEP_TEST_HOME"):
            print(f"\nferry: the Celery deployment's files stay in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def add_many_leads(include: Path, warehouse: Path) -> None:
    """lead_many: every demo lead MANY_LEADS times with its own lead_id, in tables.yaml too."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "CREATE TABLE lead_many AS SELECT * REPLACE (lead_id * ? + r.range AS lead_id) "
            "FROM lead, range(?) AS r",
            [MANY_LEADS, MANY_LEADS],
        )
    tables_yaml = include / "warehouse" / "tables.yaml"
    tables = yaml.safe_load(tables_yaml.read_text())
    tables["tables"]["lead_many"] = {**tables["tables"]["lead"], "description": "Many leads."}
    tables_yaml.write_text(yaml.safe_dump(tables, sort_keys=False))


@pytest.fixture(scope="package")
def celery_client(celery_deployment: Deployment) -> AirflowClient:
    return AirflowClient(celery_deployment.url, username=devserver.ADMIN_USER, password=PASSWORD)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed test shows the end of the scheduler's and the workers' logs."""
    report = yield
    deployment = item.funcargs.get("celery_deployment") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(deployment, Deployment):
        for name in ("scheduler", *deployment.worker_names):
            log = deployment.components[name].log
            if log.exists():
                lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
                report.sections.append((f"{name}.log (end)", "\n".join(lines)))
    return report
