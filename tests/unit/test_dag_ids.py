"""DAG ids: each kind spelled once, read back to the export or group it names."""

from __future__ import annotations

import pytest

from ferry.dag_ids import (
    broken_dag_id,
    export_dag_id,
    export_of_dag,
    group_dag_id,
    group_of_dag,
    is_ferry_run,
)


@pytest.mark.parametrize("name", ["leads", "daily_lead_backup", "a__b", "export__x"])
def test_an_export_and_a_group_read_back_from_their_dag_id(name):
    assert export_dag_id(name) == f"export__{name}"
    assert group_dag_id(name) == f"group__{name}"
    assert export_of_dag(export_dag_id(name)) == name
    assert group_of_dag(group_dag_id(name)) == name


def test_each_reader_answers_only_for_its_own_kind():
    assert export_of_dag(group_dag_id("nightly")) == ""
    assert group_of_dag(export_dag_id("leads")) == ""
    assert export_of_dag("ferry_refresh") == group_of_dag("ferry_refresh") == ""
    assert export_of_dag("my_export__leads") == ""  # a prefix, not anywhere in the id


def test_only_export_import_and_group_runs_are_ferrys_to_record():
    from ferry.dag_ids import import_dag_id

    assert is_ferry_run(export_dag_id("leads"))
    assert is_ferry_run(import_dag_id("partner_leads"))
    assert is_ferry_run(group_dag_id("nightly"))
    for other in ("ferry_refresh", "ferry_housekeeping", broken_dag_id("exports.leads"), ""):
        assert not is_ferry_run(other), other


def test_a_broken_files_dag_names_the_file():
    assert broken_dag_id("exports.leads") == "ferry_broken__exports.leads"
    assert export_of_dag(broken_dag_id("exports.leads")) == ""


def test_an_import_dag_is_named_and_read_back():
    from ferry.dag_ids import import_dag_id, import_of_dag

    assert import_of_dag(import_dag_id("partner_leads")) == "partner_leads"
    assert import_of_dag("export__partner_leads") == ""
