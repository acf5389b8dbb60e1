"""The operators of an import DAG: thin Airflow shells around ferry.pipeline_imports' steps.

wait_for_file is a sensor in reschedule mode (no worker slot held between looks); its
timeout fails the run with the reason pipeline_imports gives (what was looked for, where).
load and finalize map Ferry's errors to Airflow's outcomes through task_outcome, as the
export operators do; every step's last failure records the run failed (RecordImportFailure).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator, BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowSensorTimeout

from ferry.render.operators import Membership, ending, retry_defaults, run_info, task_outcome


class FileSensor(BaseSensorOperator):
    """Wait until the files matching the import's pattern are whole in its source folder;
    a run the import's ledger has loaded before waits for nothing (unless forced).

    Args:
        import_id: The import's id in include/imports/.
    """

    ui_color = "#fdf6e3"

    def __init__(self, *, import_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.import_id = import_id

    def poke(self, context: Context) -> bool:
        from ferry import pipeline_imports

        with task_outcome(self.log):
            run = run_info(context, self.import_id, with_params=False)
            force = (context.get("params") or {}).get("force") is True  # the DAG's own param
            ready = pipeline_imports.files_ready(
                pipeline_imports.import_of(self.import_id), run, force=force
            )
        if ready.loaded_before:
            self.log.info("Run %s was loaded before: nothing to wait for", run.job_run_id)
        for remote in ready.files:
            self.log.info("Found %s (%d bytes), whole", remote.location, remote.size)
        return bool(ready)

    def execute(self, context: Context) -> Any:
        from ferry import pipeline_imports

        try:
            return super().execute(context)
        except AirflowSensorTimeout as timeout:
            run = run_info(context, self.import_id, with_params=False)
            reason = pipeline_imports.wait_timeout_reason(
                pipeline_imports.import_of(self.import_id), run.template_vars()
            )
            raise AirflowSensorTimeout(reason) from timeout


class LoadOperator(BaseOperator):
    """Fetch the run's files and load them into the import's table in one transaction."""

    ui_color = "#e8f4fd"

    def __init__(self, *, import_id: str, **kwargs: Any) -> None:
        super().__init__(**retry_defaults(kwargs))
        self.import_id = import_id

    def execute(self, context: Context) -> dict:
        from ferry import pipeline_imports

        with task_outcome(self.log):
            run = run_info(context, self.import_id, with_params=False)
            force = (context.get("params") or {}).get("force") is True  # the DAG's own param
            self.log.info("Import %s, run %s: load", self.import_id, run.job_run_id)
            return pipeline_imports.load(run, log=self.log, force=force)


class ImportFinalizeOperator(BaseOperator):
    """Record the import run, notify, move its files to done/, and emit the table's asset.

    Args:
        import_id: The import's id.
        load_task_id: The load task whose result (XCom) goes into the record.
        membership: Set inside a group: the group notifies instead.
    """

    ui_color = "#f4ecf7"

    def __init__(
        self,
        *,
        import_id: str,
        load_task_id: str,
        membership: Membership | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**retry_defaults(kwargs))
        self.import_id = import_id
        self.load_task_id = load_task_id
        self.membership = membership

    def execute(self, context: Context) -> dict:
        from ferry import notify, pipeline_imports

        with task_outcome(self.log):
            run = run_info(context, self.import_id, with_params=False)
            loaded = context["ti"].xcom_pull(task_ids=self.load_task_id)
            log_url = notify.run_url(context["ti"].dag_id, run.run_id)
            return pipeline_imports.finalize(
                run, loaded, ending(context, self.membership, log_url), log=self.log
            )


class RecordImportFailure:
    """on_failure_callback of an import's tasks: record the run failed, log it, notify."""

    def __init__(self, import_id: str, membership: Membership | None = None) -> None:
        self.import_id = import_id
        self.membership = membership

    def __call__(self, context: Context) -> None:
        from ferry import pipeline_imports

        ti = context["ti"]
        error = context.get("exception")
        reason = f"{ti.task_id.rsplit('.', 1)[-1]} failed: {error or 'no error message'}"
        run = run_info(context, self.import_id, with_params=False)
        pipeline_imports.finalize_failed(
            run, reason, ending(context, self.membership, ti.log_url), log=context["task"].log
        )
