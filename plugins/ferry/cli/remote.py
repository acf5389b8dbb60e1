"""Commands that work on a running Airflow through its REST API: run, run-all, stop.

Where Airflow is and who you are there: --url/--user/--password, or the environment
variables FERRY_AIRFLOW_URL, FERRY_AIRFLOW_USER and FERRY_AIRFLOW_PASSWORD (prefer the
environment for the password: command-line arguments show in the process list);
FERRY_AIRFLOW_TIMEOUT is how long to wait for each answer (default 30 s). The
definitions come from include/ (FERRY_INCLUDE) and run records from FERRY_HOME, as for
every other command.

Nothing here imports Airflow: these commands only talk to its REST API.

Exit codes: 0 done, 1 refused (by Ferry or by Airflow) or a run failed, 2 Airflow did not
answer (nothing was started), 3 a trigger was sent but its answer was lost: the run may
have started, so check before running it again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import getpass
import os
import secrets
import sys
from collections.abc import Callable
from urllib.parse import quote

from ferry import history, paths
from ferry.airflow_api import (
    AirflowApiError,
    AirflowClient,
    AirflowUnreachable,
    TriggerOutcomeUnknown,
)
from ferry.run_info import GROUP_MARK, RunInfo
from ferry.spec.loader import Project, load_project
from ferry.spec.models import ExportSpec
from ferry.spec.schedule import NOT_RUNNING_STATUSES, export_status

ENVIRONMENT = {
    "url": "FERRY_AIRFLOW_URL",
    "user": "FERRY_AIRFLOW_USER",
    "password": "FERRY_AIRFLOW_PASSWORD",
}
DEFAULTS = {"url": "http://127.0.0.1:8080", "user": "admin"}
TIMEOUT_VARIABLE = "FERRY_AIRFLOW_TIMEOUT"  # seconds to wait for each answer
DEFAULT_TIMEOUT = "30"
ACTIVE_RUN_STATES = ("queued", "running")
NOT_SCHEDULED = {
    "off": "schedule off",
    "disabled": "disabled (enabled: false)",
    "detached": "detached",
    "expired": "expired",
}


EXIT_REFUSED = 1
EXIT_UNREACHABLE = 2
EXIT_MAY_HAVE_STARTED = 3


class CliError(Exception):
    """A problem the user can fix, reported in one line."""


def register(subparsers) -> None:
    _extend_run(subparsers.choices["run"])
    _add_run_all(subparsers)
    stop = subparsers.add_parser("stop", help="stop a run: mark it failed in Airflow")
    stop.add_argument("run", help="JobID.RunID (or GroupID.RunID) as ferry run printed it")
    add_connection_options(stop)
    stop.set_defaults(handler=guarded(stop_run))


def _add_run_all(subparsers) -> None:
    run_all = subparsers.add_parser("run-all", help="run now every export whose schedule is active")
    run_all.add_argument("--dry-run", action="store_true", help="only say what would run")
    run_all.add_argument("--wait", action="store_true", help="wait for the runs to finish")
    run_all.add_argument("--timeout", type=float, default=3600, help="seconds to wait at most")
    add_connection_options(run_all)
    run_all.set_defaults(handler=guarded(run_all_exports))


def _extend_run(run: argparse.ArgumentParser) -> None:
    """`ferry run` is declared with the local commands; without --local it lands here."""
    run.add_argument(
        "more", nargs="*", metavar="EXPORT", help="more exports to start in the same call"
    )
    run.set_defaults(handler=run_command)
    run.add_argument("--wait", action="store_true", help="wait for the runs and print records")
    run.add_argument("--timeout", type=float, default=3600, help="seconds to wait at most")
    add_connection_options(run)


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Airflow (flags, else environment)")
    group.add_argument("--url", help=f"${ENVIRONMENT['url']}, default {DEFAULTS['url']}")
    group.add_argument("--user", help=f"${ENVIRONMENT['user']}, default {DEFAULTS['user']}")
    group.add_argument("--password", help=f"${ENVIRONMENT['password']} (preferred)")


def setting(args: argparse.Namespace, name: str) -> str | None:
    return getattr(args, name, None) or os.environ.get(ENVIRONMENT[name]) or DEFAULTS.get(name)


def client_from(args: argparse.Namespace) -> AirflowClient:
    """One client, so one token, for the whole command."""
    password = setting(args, "password")
    if not password:
        raise CliError(f"no Airflow password: set {ENVIRONMENT['password']} or pass --password")
    timeout = os.environ.get(TIMEOUT_VARIABLE) or DEFAULT_TIMEOUT
    try:
        seconds = float(timeout)
    except ValueError:
        raise CliError(f"{TIMEOUT_VARIABLE} must be seconds, not {timeout!r}") from None
    url, user = setting(args, "url"), setting(args, "user")
    return AirflowClient(url, username=user, password=password, timeout=seconds)


def guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Report a user error or a network problem in one line instead of a traceback."""
    import requests

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except TriggerOutcomeUnknown as lost:  # only reached by commands without their own
            print(f"ferry {args.command}: {lost}; the run may have started", file=sys.stderr)
            return EXIT_MAY_HAVE_STARTED
        except AirflowUnreachable as error:
            print(f"ferry {args.command}: {error}", file=sys.stderr)
            return EXIT_UNREACHABLE
        except (CliError, AirflowApiError, TimeoutError) as error:
            print(f"ferry {args.command}: {error}", file=sys.stderr)
            return EXIT_REFUSED
        except requests.RequestException as error:
            print(f"ferry {args.command}: Airflow at {setting(args, 'url')} failed: "
                  f"{type(error).__name__}", file=sys.stderr)  # fmt: skip
            return EXIT_UNREACHABLE

    return run


def current_definitions() -> Project:
    return load_project(paths.include_dir())


def find_export(project: Project, export_id: str) -> ExportSpec:
    if export_id not in project.exports:
        broken = f"exports.{export_id}" in project.broken
        raise CliError(
            f"export '{export_id}' has errors: see ferry validate"
            if broken
            else f"no export '{export_id}' in {paths.include_dir() / 'exports'}"
        )
    return project.exports[export_id]


# ferry run


def run_command(args: argparse.Namespace) -> int:
    """`ferry run`: --local runs one export here; otherwise Airflow starts each one given."""
    if not args.local:
        return trigger(args)
    if args.more:
        print("ferry run: --local runs one export at a time", file=sys.stderr)
        return EXIT_REFUSED
    from ferry.cli import local  # imports Airflow's task code: only for --local

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


def runnable_exports(project: Project, export_ids: list[str]) -> list[ExportSpec]:
    """The exports to start, or CliError naming every one that cannot be (nothing starts)."""
    exports, problems = [], []
    for export_id in dict.fromkeys(export_ids):
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
    dag = _deployed_dag(client, export.dag_id)
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
        runs = _recent_runs(client, dag_id)
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


def _deployed_dag(client: AirflowClient, dag_id: str) -> dict:
    try:
        return client.dag(dag_id)
    except AirflowApiError as error:
        if error.status == 404:
            message = f"{dag_id} is not in Airflow (yet): is the definition deployed?"
            raise CliError(message) from None
        raise


def _print_triggered(owner_id: str, run: dict, client: AirflowClient, *, paused: bool) -> None:
    run_id = run["dag_run_id"]
    print(f"{RunInfo(owner_id, run_id).job_run_id}")
    print(f"  Airflow run {run_id}: {run_url(client, run['dag_id'], run_id)}")
    if paused:
        print(f"  {run['dag_id']} is paused in Airflow: the run waits until it is unpaused")


def run_url(client: AirflowClient, dag_id: str, run_id: str) -> str:
    return f"{client.base_url}/dags/{dag_id}/runs/{quote(run_id, safe='')}"


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
    deployed = deployed_dags(client, "export__")
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


def not_runnable(export: ExportSpec, dag: dict | None) -> str | None:
    """Why run-all leaves an export out, or None: its schedule is active and Airflow has it."""
    status = export_status(export)
    if status != "active":
        return NOT_SCHEDULED[status]
    if dag is None:
        return "not in Airflow (yet)"
    return "paused in Airflow" if dag["is_paused"] else None


def deployed_dags(client: AirflowClient, prefix: str) -> dict[str, dict]:
    """Airflow's DAGs whose id starts with prefix, by dag_id (all pages)."""
    found: dict[str, dict] = {}
    while True:
        page = client.request(
            "GET", "/dags",
            params={"dag_id_prefix_pattern": prefix, "exclude_stale": "true",
                    "limit": 100, "offset": len(found)},
        )  # fmt: skip
        found.update({dag["dag_id"]: dag for dag in page["dags"]})
        if not page["dags"] or len(found) >= page["total_entries"]:
            return found


# ferry stop


def stop_run(args: argparse.Namespace) -> int:
    """Mark a queued or running run failed; Airflow stops its running tasks."""
    client = client_from(args)
    owner_id, dag_id, run = find_run(client, args.run)
    if run["state"] not in ACTIVE_RUN_STATES:
        raise CliError(f"{args.run} is not running: it ended {run['state']}")
    body = {"state": "failed", "note": _note("Stopped with ferry stop")}
    client.request("PATCH", f"/dags/{dag_id}/dagRuns/{quote(run['dag_run_id'], safe='')}",
                   json=body)  # fmt: skip
    if dag_id.startswith("export__"):
        _record_stop(owner_id, run, run_url(client, dag_id, run["dag_run_id"]))
    print(f"Stopped {RunInfo(owner_id, run['dag_run_id']).job_run_id}: marked failed in Airflow")
    return 0


def find_run(client: AirflowClient, text: str) -> tuple[str, str, dict]:
    """(export or group id, dag_id, run) for 'JobID.RunID', 'GroupID.RunID' or 'ID.<run_id>'.

    A group member's JobID.RunID (<export>.<group>+<run>) names its group's run.
    """
    owner_id, _, wanted = text.partition(".")
    if GROUP_MARK in wanted:  # a group member's <export>.<group>+<run>: stop the group's run
        owner_id, _, wanted = wanted.partition(GROUP_MARK)
    for dag_id in (f"export__{owner_id}", f"group__{owner_id}"):
        for run in _recent_runs(client, dag_id):
            if wanted in (run["dag_run_id"], RunInfo(owner_id, run["dag_run_id"]).safe_run_id):
                return owner_id, dag_id, run
    raise CliError(f"no run {text}: give the JobID.RunID that ferry run or ferry history shows")


def _recent_runs(client: AirflowClient, dag_id: str) -> list[dict]:
    try:
        page = client.request(
            "GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "-run_after", "limit": 100}
        )
    except AirflowApiError as error:
        if error.status == 404:
            return []
        raise
    return page["dag_runs"]


def _record_stop(export_id: str, run: dict, link: str) -> None:
    """A stopped run gets a record too: no task callback runs when a run is marked failed."""
    info = RunInfo(export_id, run["dag_run_id"], triggered_by=_triggered_by(run))
    started = dt.datetime.fromisoformat(run["start_date"]) if run.get("start_date") else None
    record = history.RunRecord.ended(
        info, "stopped", f"stopped by {getpass.getuser()} with ferry stop",
        started_at=started, finished_at=dt.datetime.now(dt.UTC), log_url=link,
    )  # fmt: skip
    history.record_run(record)


def _triggered_by(run: dict) -> str:
    return run.get("triggering_user_name") or run.get("run_type") or "unknown"
