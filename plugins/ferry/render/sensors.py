"""Sensors of export DAGs: wait_for_refresh, and the trigger it defers to.

While a refresh of what an export reads is running, the sensor hands the wait to the
triggerer (no worker slot held, nothing rescheduled every poke) and resumes when the
refresh's markers are gone; with no refresh running it returns at once, without deferring.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowSensorTimeout
from airflow.triggers.base import BaseTrigger, TriggerEvent

# The scheduler's own deferral timeout fires this long after the trigger's deadline, so
# the trigger's clearer timeout message normally wins.
DEFERRAL_GRACE = dt.timedelta(minutes=1)


class RefreshTrigger(BaseTrigger):
    """Fire once no refresh marker of the names remains, or at the deadline.

    Args:
        names: Tables and segments the export depends on.
        marker_dir: The refresh marker folder the task saw.
        poll_interval: Seconds between two looks at the markers.
        deadline: Epoch seconds after which the trigger reports a timeout.
    """

    def __init__(
        self, *, names: list[str], marker_dir: str, poll_interval: float, deadline: float
    ) -> None:
        super().__init__()
        self.names = list(names)
        self.marker_dir = marker_dir
        self.poll_interval = float(poll_interval)
        self.deadline = float(deadline)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "names": self.names,
                "marker_dir": self.marker_dir,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from ferry import refresh

        started = time.time()
        while True:
            running = await asyncio.to_thread(
                refresh.refreshes_in_progress, self.names, self.marker_dir
            )
            waited = round(time.time() - started, 1)
            if not running:
                yield TriggerEvent({"status": "done", "waited_s": waited})
                return
            if time.time() >= self.deadline:
                yield TriggerEvent({"status": "timeout", "running": running, "waited_s": waited})
                return
            await asyncio.sleep(self.poll_interval)


class RefreshSensor(BaseSensorOperator):
    """Wait while a refresh of something the export reads is in progress.

    Args:
        export_id: The export's id.
        depends_on: Tables and segments whose refresh the export must not read halfway.
        deferrable: Wait in the triggerer (default); False pokes like a classic sensor,
            in the given mode.
    """

    ui_color = "#fdf6e3"

    def __init__(
        self, *, export_id: str, depends_on: list[str], deferrable: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.export_id = export_id
        self.depends_on = depends_on
        self.deferrable = deferrable

    def poke(self, context: Context) -> bool:
        from ferry import refresh

        running = refresh.refreshes_in_progress(self.depends_on)
        if running:
            self.log.info("Waiting: refresh in progress for %s", ", ".join(running))
        return not running

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            self.log.info("No refresh running for %s", ", ".join(self.depends_on) or "-")
            return None
        self.defer(
            trigger=self._trigger(),
            method_name="execute_complete",
            timeout=dt.timedelta(seconds=self.timeout) + DEFERRAL_GRACE,
        )

    def _trigger(self) -> RefreshTrigger:
        from ferry import refresh

        return RefreshTrigger(
            names=self.depends_on,
            marker_dir=str(refresh.marker_dir()),
            poll_interval=self.poke_interval,
            deadline=time.time() + self.timeout,
        )

    def execute_complete(self, context: Context, event: dict | None = None) -> None:
        """Resume after the trigger fired: go on, or fail when the refresh outlasted timeout."""
        event = event or {}
        if event.get("status") == "timeout":
            raise AirflowSensorTimeout(
                f"Export {self.export_id}: refresh of {', '.join(event.get('running', []))} "
                f"still running at the timeout ({dt.timedelta(seconds=round(self.timeout))}); "
                "not reading data mid-refresh"
            )
        self.log.info(
            "Refresh finished after %s s of waiting; export %s reads the fresh data",
            event.get("waited_s", "?"),
            self.export_id,
        )
