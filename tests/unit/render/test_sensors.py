"""wait_for_refresh (ferry.render.sensors): no wait without a refresh; a wait in the
triggerer while one runs, ending when its markers go or with a clear timeout."""

from __future__ import annotations

import asyncio

import pytest

from ferry import refresh


@pytest.fixture(autouse=True)
def own_markers(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "ferry"))


def sensor(**overrides):
    from ferry.render.sensors import RefreshSensor

    settings = {
        "task_id": "wait_for_refresh", "export_id": "leads", "depends_on": ["lead", "contact"],
        "poke_interval": 0.05, "timeout": 0.3, "mode": "reschedule", **overrides,
    }  # fmt: skip
    return RefreshSensor(**settings)


def deferred_trigger(waiting):
    """The trigger waiting.execute() defers to, rebuilt from its serialized form."""
    from airflow.sdk.exceptions import TaskDeferred

    from ferry.render.sensors import RefreshTrigger

    with pytest.raises(TaskDeferred) as deferred:
        waiting.execute({})
    classpath, kwargs = deferred.value.trigger.serialize()
    assert classpath == "ferry.render.sensors.RefreshTrigger"
    return RefreshTrigger(**kwargs)  # as the triggerer does


def test_the_wait_gives_up_at_its_timeout_and_says_which_refresh_ran_long():
    from airflow.sdk.exceptions import AirflowSensorTimeout

    waiting = sensor()
    assert waiting.execute({}) is None  # no refresh running: no deferral at all
    with refresh.refreshing(["lead"]):
        event = asyncio.run(anext(deferred_trigger(waiting).run()))

    assert event.payload["status"] == "timeout" and event.payload["running"] == ["lead"]
    with pytest.raises(
        AirflowSensorTimeout, match=r"refresh of lead still running at the timeout \(0:00:00\)"
    ):
        waiting.execute_complete({}, event.payload)


def test_the_wait_ends_when_the_refresh_releases_its_markers():
    waiting = sensor(timeout=30)

    async def release_then_wait(trigger):
        waited = asyncio.create_task(anext(trigger.run()))
        await asyncio.sleep(0.2)
        assert not waited.done(), "the trigger fired while the refresh ran"
        refresh.release(["contact"])
        return await asyncio.wait_for(waited, timeout=10)

    refresh.hold(["contact"])
    event = asyncio.run(release_then_wait(deferred_trigger(waiting)))

    assert event.payload["status"] == "done" and event.payload["waited_s"] >= 0.2
    assert waiting.execute_complete({}, event.payload) is None


def test_a_refresh_of_something_else_is_not_waited_for():
    waiting = sensor()
    with refresh.refreshing(["customer_profile"]):
        assert waiting.poke({}) is True
    with refresh.refreshing(["contact"]):
        assert waiting.poke({}) is False
