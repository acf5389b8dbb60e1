"""Commands that work on a running Airflow through its REST API: run, run-all, stop.

`ferry run` is declared here: without --local Airflow starts each export (or group, or
import) given; with --local the run goes to ferry.cli.local, ferry.cli.groups for a group or
ferry.cli.imports for an import (imported then, not before). Where Airflow is,
who you are there and the exit codes: ferry.cli.connection. The definitions come from
include/ (FERRY_INCLUDE) and run records from FERRY_HOME, as for every other command.

Nothing here imports Airflow: these commands only talk to its REST API.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import secrets
import sys

from ferry import history
from ferry.airflow_api import (
    AirflowApiError,
    AirflowClient,
    AirflowUnreachable,
    TriggerOutcomeUnknown,
)
from ferry.cli import groups, imports
from ferry.cli.connection import (
    EXIT_MAY_HAVE_STARTED,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    CliError,
    add_connection_options,
    client_from,
    guarded,
)
from ferry.cli.deployed import (
    ACTIVE_RUN_STATES,
    NOT_SCHEDULED,
    current_definitions,
    deployed_dag,
    find_export,
    find_run,
    not_runnable,
    recent_runs,
    run_url,
)
from ferry.cli.run_options import add_run_options
from ferry.dag_ids import EXPORT_PREFIX, IMPORT_PREFIX
from ferry.run_info import RunInfo
from ferry.spec.loader import Project
from ferry.spec.models import ExportSpec, GroupSpec, ImportSpec
from ferry.spec.schedule import NOT_RUNNING_STATUSES, export_status


def register(subparsers) -> None:
    _add_run(subparsers)
    _add_run_all(subparsers)
    stop = subparsers.add_parser("stop", help="stop a run: mark it failed in Airflow")
    stop.add_argument(
        "run",
        help="JobID.RunID (or GroupID.RunID) as ferry run printed it; an export's or a "
        "group's id alone stops each of its queued or running runs",
    )
    add_connection_options(stop)
    stop.set_defaults(handler=guarded(stop_run))


def _add_run(subparsers) -> None:
    run = subparsers.add_parser("run", help="run an export (or group, or import) once, now")
    run.add_argument("export", help="an export's id, or a group's, or an import's")
    add_run_options(run)
    run.add_argument("--local", action="store_true", help="in this process (no scheduler)")
    run.add_argument(
        "--json", action="store_true", help="with --local: the run's record as one JSON line"
    )
    run.add_argument(
        "more", nargs="*", metavar="EXPORT", help="more exports to start in the same call"
    )
    run.add_argument(
        "--force", action="store_true",
        help="with --local, an import: load files its ledger says were loaded already",
    )  # fmt: skip
    run.set_defaults(handler=run_command)
    run.add_argument("--wait", action="store_true", help="wait for the runs and print records")
    run.add_argument("--timeout", type=float, default=3600, help="seconds to wait at most")
    add_connection_options(run)


def _add_run_all(subparsers) -> None:
    run_all = subparsers.add_parser("run-all", help="run now every export whose schedule is active")
    run_all.add_argument("--dry-run", action="store_true", help="only say what would run")
    run_all.add_argument("--wait", action="store_true", help="wait for the runs to finish")
    run_all.add_argument("--timeout", type=float, default=3600, help="seconds to wait at most")
    add_connection_options(run_all)
    run_all.set_defaults(handler=guarded(run_all_exports))


# ferry run


def run_command(args: argparse.Namespace) -> int:
    """`ferry run`: --local runs one export here; otherwise Airflow starts each one given."""
    if not args.local:
        return trigger(args)
    if args.more:
        print("ferry run: --local runs one export at a time", file=sys.stderr)
        return EXIT_REFUSED
    project = current_definitions()
    if groups.is_group(project, args.export):
        return groups.run_group_local(args, project)
    if imports.is_import(project, args.export):
        return imports.run_import_local(args, project)
    from ferry.cli import local

    return local.run_local(args)


def trigger(args: argparse.Namespace) -> int:
    """`ferry run EXPORT [EXPORT...]` without --local: start runs in Airflow, print their ids."""
    return guarded(_trigger)(args)


def _trigger(args: argparse.Namespace) -> int:
    exports = runnable_exports(current_definitions(), [args.export, *args.more])
    client = client_from(args)
    conf = run_conf(args)
    started, worst = _trigger_each(client, exports, conf, "ferry run")
    return _finish(args, client, started, worst)


def _trigger_each(
    client: AirflowClient, exports: list[ExportSpec], conf: dict, command: str
) -> tuple[list[tuple[str, dict]], int]:
    """Trigger each export once, reporting each; (started runs, worst exit code so far)."""
    started, worst = [], 0
    for position, export in enumerate(exports):
        try:
            started.append((export.id, _start(client, export, conf, command)))
        except TriggerOutcomeUnknown as lost:
            print(may_have_started(client, export, lost), file=sys.stderr)
            worst = max(worst, EXIT_MAY_HAVE_STARTED)
        except AirflowUnreachable as error:  # the rest would wait as long: stop here
            left = ", ".join(e.id for e in exports[position:])
            print(f"{command}: {error}\n  not started: {left}", file=sys.stderr)
            return started, max(worst, EXIT_UNREACHABLE)
        except (CliError, AirflowApiError) as error:
            print(f"{command} {export.id}: {error}", file=sys.stderr)
            worst = max(worst, EXIT_REFUSED)
    return started, worst


def _finish(args: argparse.Namespace, client, started: list[tuple[str, dict]], worst: int) -> int:
    if not args.wait:
        return worst
    outcomes = [_wait_and_report(client, e, run, args.timeout) for e, run in started]
    return max([worst] + [0 if outcome == "success" else EXIT_REFUSED for outcome in outcomes])


def runnable_exports(
    project: Project, export_ids: list[str]
) -> list[ExportSpec | GroupSpec | ImportSpec]:
    """The exports (and groups) to start, or CliError naming every one that cannot be
    (nothing starts)."""
    exports, problems = [], []
    for export_id in dict.fromkeys(export_ids):
        if groups.is_group(project, export_id):  # a group runs as its own DAG
            problems += groups.group_problems(project, project.groups[export_id])
            exports.append(project.groups[export_id])
            continue
        if imports.is_import(project, export_id):  # an import runs as its own DAG too
            problems += imports.import_problems(project.imports[export_id])
            exports.append(project.imports[export_id])
            continue
        try:
            export = find_export(project, export_id)
        except CliError as error:
            problems.append(str(error))
            continue
        status = export_status(export)
        if status in NOT_RUNNING_STATUSES:
            problems.append(
                f"export '{export.id}' is {NOT_SCHEDULED[status]}: {_revive(export, status)}"
            )
        exports.append(export)
    if problems:
        raise CliError("\n  ".join(problems + ["nothing was started"]))
    return exports


def _start(client: AirflowClient, export: ExportSpec, conf: dict, command: str) -> dict:
    dag = deployed_dag(client, export.dag_id)
    note = f"{_note(command)} [{secrets.token_hex(4)}]"  # a tag to find the run if lost
    try:
        run = client.trigger(export.dag_id, conf=conf, note=note)
    except TriggerOutcomeUnknown:
        run = _run_with_note(client, export.dag_id, note)
        if run is None:
            raise
    _print_triggered(export.id, run, client, paused=dag["is_paused"])
    return run


def _run_with_note(client: AirflowClient, dag_id: str, note: str) -> dict | None:
    """The run our lost trigger created, if Airflow shows it already (a GET: safe)."""
    try:
        runs = recent_runs(client, dag_id)
    except AirflowApiError:
        return None
    return next((run for run in runs if run.get("note") == note), None)


def may_have_started(client: AirflowClient, export: ExportSpec, lost: Exception) -> str:
    """What to tell the user when a trigger's answer was lost: check before running again."""
    return (
        f"ferry run {export.id}: {lost}\n"
        f"  The run MAY HAVE STARTED. Check before running it again:\n"
        f"    ferry list --filter id={export.id}   (STATUS running) or ferry history {export.id}\n"
        f"    {client.base_url}/dags/{export.dag_id}/runs"
    )


def _revive(export: ExportSpec, status: str) -> str:
    return {
        "disabled": f"ferry schedule {export.id} --on enables it",
        "detached": f"ferry detach {export.id} --undo re-attaches it",
    }.get(status, f"it expired on {export.expires}; change expires to run it again")


def run_conf(args: argparse.Namespace) -> dict:
    """The DAG params of an on-demand run: one day (--date) or a range, and ids."""
    if args.date and (args.date_from or args.date_to):
        raise CliError("give --date or --from/--to, not both")
    start, end = (args.date, args.date) if args.date else (args.date_from, args.date_to)
    if start and end and end < start:
        raise CliError(f"--to {end} is before --from {start}")
    conf: dict = {"ids": list(args.ids)} if args.ids else {}
    conf.update({key: day.isoformat() for key, day in (("date_from", start), ("date_to", end))
                 if day})  # fmt: skip
    return conf


def _note(command: str) -> str:
    return f"{command} by {getpass.getuser()}"


def _print_triggered(owner_id: str, run: dict, client: AirflowClient, *, paused: bool) -> None:
    run_id = run["dag_run_id"]
    print(f"{RunInfo(owner_id, run_id).job_run_id}")
    print(f"  Airflow run {run_id}: {run_url(client, run['dag_id'], run_id)}")
    if paused:
        print(f"  {run['dag_id']} is paused in Airflow: the run waits until it is unpaused")


def _wait_and_report(client: AirflowClient, export_id: str, run: dict, timeout: float) -> str:
    finished = client.wait_for_run(run["dag_id"], run["dag_run_id"], timeout=timeout)
    job_run_id = RunInfo(export_id, run["dag_run_id"]).job_run_id
    record = history.get_run(job_run_id)
    print(record.summary() if record else f"Run {job_run_id} {finished['state']}")
    return finished["state"]


# ferry run-all


def run_all_exports(args: argparse.Namespace) -> int:
    """Trigger every export whose schedule is active; say why each other one is left out."""
    project = current_definitions()
    client = client_from(args)
    deployed = client.dags(EXPORT_PREFIX)
    runnable = []
    for export in sorted(project.exports.values(), key=lambda e: e.id):
        reason = not_runnable(export, deployed.get(export.dag_id))
        if reason or args.dry_run:
            print(
                f"{'skip' if reason else 'would run'} {export.id}{f': {reason}' if reason else ''}"
            )
            continue
        runnable.append(export)
    started, worst = _trigger_each(client, runnable, {}, "ferry run-all")
    print(f"{len(started)} of {len(project.exports)} exports started")
    return _finish(args, client, started, worst)


# ferry stop


def stop_run(args: argparse.Namespace) -> int:
    """Mark a queued or running run failed; Airflow stops its running tasks.

    An export's or a group's id alone stops every run of it that is queued or running.
    """
    client = client_from(args)
    if "." not in args.run:
        return _stop_all(client, args.run)
    owner_id, dag_id, run = find_run(client, args.run)
    if run["state"] not in ACTIVE_RUN_STATES:
        raise CliError(f"{args.run} is not running: it ended {run['state']}")
    _stop(client, owner_id, dag_id, run)
    return 0


def _stop_all(client: AirflowClient, owner_id: str) -> int:
    project = current_definitions()
    if groups.is_group(project, owner_id):
        dag_id = project.groups[owner_id].dag_id
    elif imports.is_import(project, owner_id):
        dag_id = project.imports[owner_id].dag_id
    else:
        dag_id = find_export(project, owner_id).dag_id
    active = [run for run in recent_runs(client, dag_id) if run["state"] in ACTIVE_RUN_STATES]
    if not active:
        raise CliError(f"{owner_id} has no queued or running run to stop")
    for run in active:
        _stop(client, owner_id, dag_id, run)
    return 0


def _stop(client: AirflowClient, owner_id: str, dag_id: str, run: dict) -> None:
    client.set_run_state(dag_id, run["dag_run_id"], "failed", note=_note("Stopped with ferry stop"))
    if dag_id.startswith((EXPORT_PREFIX, IMPORT_PREFIX)):
        kind = "import" if dag_id.startswith(IMPORT_PREFIX) else "export"
        _record_stop(owner_id, run, run_url(client, dag_id, run["dag_run_id"]), kind)
    print(f"Stopped {RunInfo(owner_id, run['dag_run_id']).job_run_id}: marked failed in Airflow")


def _record_stop(export_id: str, run: dict, link: str, kind: str = "export") -> None:
    """A stopped run gets a record too: no task callback runs when a run is marked failed."""
    info = RunInfo(export_id, run["dag_run_id"], triggered_by=_triggered_by(run))
    started = dt.datetime.fromisoformat(run["start_date"]) if run.get("start_date") else None
    record = history.RunRecord.ended(
        info, "stopped", f"stopped by {getpass.getuser()} with ferry stop",
        started_at=started, finished_at=dt.datetime.now(dt.UTC), log_url=link, kind=kind,
    )  # fmt: skip
    history.record_run(record)


def _triggered_by(run: dict) -> str:
    return run.get("triggering_user_name") or run.get("run_type") or "unknown"
