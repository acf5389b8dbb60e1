"""Shared by the spec tests: a good export to extend, and the errors a copy of include/ has."""

from __future__ import annotations

import textwrap
from pathlib import Path

from ferry.spec.loader import load_project

ROOT = Path(__file__).resolve().parents[3]
GOOD_EXPORT = """\
id: {id}
name: Good
source: {{table: lead}}
fields: [lead_id, state]
destinations: [{{type: download}}]
"""


def write(include: Path, relative: str, text: str) -> Path:
    path = include / relative
    path.write_text(textwrap.dedent(text))
    return path


def errors_of(include: Path) -> list[str]:
    return [str(error) for error in load_project(include).errors]


TEAM_TABLES = """\
tables:
  crm_companies:
    key: company_id
    segment_type: account
    columns:
      company_id: {type: BIGINT}
      employees: {type: INTEGER}
  crm_people:
    connection: {people_connection}
    key: person_id
    segment_type: contact
    columns:
      person_id: {type: BIGINT}
      {link}: {type: BIGINT}
      email: {type: VARCHAR, pii: true}
"""
TEAM_SEGMENT = (
    "id: big_companies\nname: Big\ntype: account\nrules: {field: employees, op: gt, value: 100}\n"
)
TEAM_EXPORT = """\
id: people_of_big_companies
name: People of big companies
kind: segment
source: {segment: big_companies}
target: crm
contacts_of_accounts: true
fields: [person_id, company_id]
destinations: [{type: download}]
"""


def team_include(folder: Path, people_connection="ferry_warehouse", link="company_id") -> Path:
    """A team's own include/: its contacts and accounts are crm_people and crm_companies."""
    include = folder / "include"
    for sub in ("warehouse", "segments", "exports"):
        (include / sub).mkdir(parents=True)
    tables = TEAM_TABLES.replace("{people_connection}", people_connection)
    (include / "warehouse" / "tables.yaml").write_text(tables.replace("{link}", link))
    (include / "targets.yaml").write_text(
        "targets:\n  crm: {name: CRM, segment_types: [contact, account]}\n"
    )
    (include / "segments" / "big_companies.yaml").write_text(TEAM_SEGMENT)
    (include / "exports" / "people.yaml").write_text(TEAM_EXPORT)
    return include
