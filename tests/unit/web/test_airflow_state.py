"""Airflow's own records of Ferry's DAGs, read and changed in-process, as the API server does."""

from __future__ import annotations

from ferry.web import airflow_state


def test_deployed_dags_and_pausing(deployed):
    dag_id = "export__daily_lead_backup"
    assert dag_id in airflow_state.deployed("export__")

    assert airflow_state.set_paused(dag_id, True)
    assert airflow_state.deployed(dag_id)[dag_id].is_paused
    assert airflow_state.set_paused(dag_id, False)
    assert not airflow_state.deployed(dag_id)[dag_id].is_paused
    assert not airflow_state.set_paused("export__never_deployed", True)


def test_a_triggered_run_is_active_until_stopped(deployed):
    dag_id = "export__daily_lead_backup"
    run_id = airflow_state.trigger(dag_id, "ada", "test")

    assert airflow_state.active_runs([dag_id]) == {dag_id: [run_id]}
    stopped = airflow_state.stop(dag_id, run_id)
    assert (stopped.run_id, stopped.triggered_by) == (run_id, "ada")
    assert airflow_state.active_runs([dag_id]) == {}


def test_an_undeployed_export_cannot_be_triggered(deployed):
    import pytest

    with pytest.raises(airflow_state.NotDeployed, match="not in Airflow"):
        airflow_state.trigger("export__never_deployed", "ada", "test")


def test_last_events_gives_the_newest_refresh_per_asset(deployed):
    import datetime as dt

    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    uri = "ferry://warehouse/table/web_test_table"
    times = [dt.datetime(2026, 5, 1, tzinfo=dt.UTC), dt.datetime(2026, 5, 2, tzinfo=dt.UTC)]
    with create_session() as session:
        asset = AssetModel(name="ferry.table.web_test_table", uri=uri)
        session.add(asset)
        session.flush()
        session.add_all(AssetEvent(asset_id=asset.id, timestamp=moment) for moment in times)

    assert airflow_state.last_events([uri, "ferry://warehouse/table/none"]) == {uri: times[1]}
