"""wait_for_refresh's trigger (ferry.render.sensors): it waits while a refresh holds a name,
ends when it is released, and gives up at its deadline with a message naming the refresh.

The sensor's look at Airflow (asset events, task and run states) needs the Task SDK's
supervisor: tests/integration/test_refresh.py runs it against a team's real DAG runs.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from ferry import refresh


@pytest.fixture(autouse=True)
def own_markers(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "ferry"))


def sensor(**overrides):
    from ferry.render.sensors import RefreshSensor

    settings = {
        "task_id": "wait_for_refresh", "export_id": "leads",
        "depends_on": {"lead": "ferry://warehouse/table/lead",
                       "contact": "ferry://warehouse/table/contact"},
        "poke_interval": 0.05, "timeout": 0.3, "mode": "reschedule", **overrides,
    }  # fmt: skip
    return RefreshSensor(**settings)


def trigger(names, timeout=0.3):
    """The trigger as the triggerer rebuilds it from its serialized form."""
    from ferry.render.sensors import RefreshTrigger

    built = RefreshTrigger(
        names=names,
        marker_dir=str(refresh.marker_dir()),
        refreshes=[],
        poll_interval=0.05,
        deadline=time.time() + timeout,
    )
    classpath, kwargs = built.serialize()
    assert classpath == "ferry.render.sensors.RefreshTrigger"
    return RefreshTrigger(**kwargs)


def test_the_wait_gives_up_at_its_timeout_and_says_which_refresh_ran_long():
    from airflow.sdk.exceptions import AirflowSensorTimeout

    with refresh.refreshing(["lead"]):
        event = asyncio.run(anext(trigger(["lead", "contact"]).run()))

    assert event.payload["status"] == "timeout"
    assert event.payload["running"] == ["lead (marker)"]
    with pytest.raises(
        AirflowSensorTimeout,
        match=r"refresh of lead \(marker\) still running at the timeout \(0:00:00\)",
    ):
        sensor().execute_complete({}, event.payload)


def test_the_wait_ends_when_the_refresh_releases_its_markers():
    async def release_then_wait(waiting):
        waited = asyncio.create_task(anext(waiting.run()))
        await asyncio.sleep(0.2)
        assert not waited.done(), "the trigger fired while the refresh ran"
        refresh.release(["contact"])
        return await asyncio.wait_for(waited, timeout=10)

    refresh.hold(["contact"])
    event = asyncio.run(release_then_wait(trigger(["lead", "contact"], timeout=30)))

    assert event.payload["status"] == "done" and event.payload["waited_s"] >= 0.2
    assert event.payload["deadline"] > time.time() + 20  # the sensor looks again until then


def test_a_refresh_of_something_else_is_not_waited_for():
    with refresh.refreshing(["customer_profile"]):
        event = asyncio.run(anext(trigger(["lead", "contact"]).run()))

    assert (event.payload["status"], event.payload["waited_s"]) == ("done", 0.0)


def test_the_sensor_takes_each_name_with_its_asset():
    waiting = sensor()

    assert waiting.depends_on == {
        "lead": "ferry://warehouse/table/lead",
        "contact": "ferry://warehouse/table/contact",
    }
    assert waiting.deferrable
