"""Segment exports in an Airflow run (dag.test): a B2B account segment sent to a contact
target fails with the users' message and sends nothing; asked for the contacts of its
accounts, it delivers exactly those contacts.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from ferry import paths
from include_copy import copy_include

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
EXPORT = """\
id: {id}
name: Enterprise accounts to Mailchimp
kind: segment
source: {{segment: enterprise_accounts}}
target: mailchimp
destinations: [{{type: download}}]
schedule: "off"
"""
CONTACTS = """\
contacts_of_accounts: true
fields: [contact_id, account_id, {field: email, as: Email}]
pii: {email: keep}
"""


@pytest.fixture
def include(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: Path) -> Path:
    target = copy_include(tmp_path)
    monkeypatch.setenv("FERRY_INCLUDE", str(target))
    return target


def run_export(include: Path, export_id: str, extra: str = ""):
    from airflow.dag_processing.dagbag import DagBag

    path = include / "exports" / f"{export_id}.yaml"
    path.write_text(EXPORT.format(id=export_id) + extra)
    dag = DagBag(dag_folder=str(ROOT / "dags" / "ferry_exports.py")).dags[f"export__{export_id}"]
    run = dag.test()
    return run, {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_an_account_segment_sent_to_a_contact_target_fails_and_sends_nothing(
    include, airflow_db, capfd
):
    run, states = run_export(include, "accounts_to_mailchimp")

    assert run.state == "failed"
    assert states["check_eligibility"] == "failed"
    assert states["extract"] == states["deliver_download"] == "upstream_failed"
    assert not (paths.downloads_dir() / "accounts_to_mailchimp").exists()
    assert (
        "The following segment is not eligible for this export destination: "
        "'Enterprise accounts'. Please choose only segments of type ContactProfile "
        "and try again."
    ) in capfd.readouterr().out


def enterprise_contacts(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        accounts = con.execute("SELECT account_id, employee_count, is_customer FROM account")
        chosen = {
            account
            for account, employees, customer in accounts.fetchall()
            if (employees or 0) >= 1000 and customer is True
        }
        contacts = con.execute("SELECT contact_id, account_id FROM contact").fetchall()
    return sorted(str(contact) for contact, account in contacts if account in chosen)


def test_contacts_of_accounts_delivers_the_contacts_of_the_segments_accounts(
    include, warehouse, airflow_db
):
    run, states = run_export(include, "enterprise_contacts", CONTACTS)

    assert run.state == "success", states
    [folder] = (paths.downloads_dir() / "enterprise_contacts").iterdir()
    with (folder / "enterprise_contacts_00001.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["contact_id", "account_id", "Email"]
    assert sorted(row["contact_id"] for row in rows) == enterprise_contacts(warehouse)
