"""Sensors of export DAGs: wait_for_refresh."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseSensorOperator, Context


class RefreshSensor(BaseSensorOperator):
    """Wait while a refresh of something the export reads is in progress.

    Args:
        export_id: The export's id.
        depends_on: Tables and segments whose refresh the export must not read halfway.
    """

    ui_color = "#fdf6e3"

    def __init__(self, *, export_id: str, depends_on: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.export_id = export_id
        self.depends_on = depends_on

    def poke(self, context: Context) -> bool:
        from ferry import refresh

        running = refresh.refreshes_in_progress(self.depends_on)
        if running:
            self.log.info("Waiting: refresh in progress for %s", ", ".join(running))
        return not running
