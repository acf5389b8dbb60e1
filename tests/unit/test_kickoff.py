"""scripts/start's one demo refresh: which DAGs start, and how one run of each begins."""

from __future__ import annotations

import pytest

from fake_airflow import fake_airflow
from ferry.airflow_api import AirflowClient
from ferry.kickoff import dags_to_start, start_all, start_once

REFRESH = "ferry_refresh"


@pytest.mark.parametrize(
    ("environ", "started"),
    [
        ({}, (REFRESH,)),
        ({"FERRY_START_REFRESH": "1"}, (REFRESH,)),
        ({"FERRY_START_REFRESH": "0"}, ()),
        ({"FERRY_START_REFRESH": "false"}, ()),
        ({"FERRY_START_REFRESH": " Off "}, ()),
    ],
)
def test_the_refresh_starts_unless_told_not_to(environ, started):
    assert dags_to_start([REFRESH, REFRESH], environ) == started


def test_nothing_starts_unless_asked():
    assert dags_to_start([], {}) == ()


def client_of(fake) -> AirflowClient:
    return AirflowClient(fake.url, username="admin", password="p", retry_delays=())


def test_a_paused_refresh_is_unpaused_and_run_once():
    with fake_airflow(paused=True) as fake:  # no scheduler here: the run is triggered
        said = start_once(client_of(fake), REFRESH, wait_run=0.5)

        assert fake.paused is False
        assert len(fake.runs[REFRESH]) == 1
        assert said.startswith(f"{REFRESH} triggered: run manual__")


def test_a_refresh_already_running_on_its_schedule_gets_one_run_now():
    with fake_airflow(paused=False) as fake:
        fake.trigger(REFRESH, {})  # a run of an earlier start

        start_once(client_of(fake), REFRESH, wait_run=0.5)

        assert len(fake.runs[REFRESH]) == 2
        assert fake.count(f"PATCH /api/v2/dags/{REFRESH}") == 0


def test_a_missing_dag_is_one_line_and_no_error():
    with fake_airflow(missing={REFRESH}) as fake:
        [said] = start_all(client_of(fake), [REFRESH], wait_parsed=0)

    assert said.startswith(f"{REFRESH} not started: ")
