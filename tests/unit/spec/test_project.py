"""A loaded include/: the tables exports read, and the record of broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.spec.errors import DefinitionError
from ferry.spec.loader import load_project
from ferry.spec.project import Project

from .helpers import ROOT, team_include


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(ROOT / "include")


def test_an_export_reads_its_table_or_its_segments(project):
    assert project.table_of(project.exports["daily_lead_backup"]) == "lead"
    segment_export = next(e for e in project.exports.values() if e.kind == "segment")
    segment = project.segments[segment_export.source.segment]
    expected = "contact" if segment_export.contacts_of_accounts else (
        project.table_for_segment_type(segment.type)
    )  # fmt: skip
    assert project.table_of(segment_export) == expected
    assert project.tables[expected].segment_type in (segment.type, "contact")


def test_each_segment_type_has_its_table(project):
    assert project.table_for_segment_type("contact") == "contact"
    assert project.table_for_segment_type("account") == "account"


def test_a_segment_type_no_table_has_says_so():
    with pytest.raises(KeyError, match=r"no table in tables\.yaml has segment_type account"):
        Project(root=Path("include")).table_for_segment_type("account")


def test_a_broken_file_is_recorded_by_its_key(tmp_path):
    project = Project(root=tmp_path / "include")
    path = tmp_path / "include" / "exports" / "bad.yaml"
    first = DefinitionError("include/exports/bad.yaml", "one")
    second = DefinitionError("include/exports/bad.yaml", "two")
    assert project.mark_broken(path, [first]) == "exports.bad"
    project.mark_broken(path, [second])
    assert project.broken == {"exports.bad": [first, second]}
    assert project.errors == [first, second]


def test_contacts_of_accounts_reads_the_table_whose_segment_type_is_contact(tmp_path):
    project = load_project(team_include(tmp_path))
    assert project.errors == []
    assert project.table_of(project.exports["people_of_big_companies"]) == "crm_people"
