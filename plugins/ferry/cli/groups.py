"""Job groups (exports and imports) on the command line, as exports: `ferry run GROUP`
(Airflow starts the group's DAG), `ferry run GROUP --local` (its members here, in order)
and `ferry stop GROUP`.

A group runs only when every member could run on its own: a disabled, detached or expired
member would otherwise run inside the group (and use the connections it gave up).
Locally, a member runs only if the one before delivered, unless that one says
continue_on_failure, as in the group's DAG; the summary stamps the members' records with
the GroupID.RunID and sends the group's one notice.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from ferry.cli.connection import CliError
from ferry.cli.imports import import_problems, run_import
from ferry.spec.loader import Project
from ferry.spec.models import GroupSpec
from ferry.spec.schedule import NOT_RUNNING_STATUSES, export_status

log = logging.getLogger("ferry")


def is_group(project: Project, owner_id: str) -> bool:
    """A group's id (an export of the same id wins: `ferry run` has always meant exports)."""
    return owner_id in project.groups and owner_id not in project.exports


def group_problems(project: Project, group: GroupSpec) -> list[str]:
    """Why the group cannot run now: each member that could not run on its own."""
    problems = []
    for member in group.members:
        if member.kind == "import":
            spec = project.imports[member.job]
            problems += [f"group '{group.id}': {problem}" for problem in import_problems(spec)]
            continue
        status = export_status(project.exports[member.export])
        if status in NOT_RUNNING_STATUSES:
            problems.append(
                f"group '{group.id}': its member '{member.export}' is {status}, so the "
                f"group does not run (re-activate it or take it out of the group)"
            )
    return problems


def runnable_group(project: Project, group_id: str) -> GroupSpec:
    """The group, or CliError naming each member that keeps it from running."""
    group = project.groups[group_id]
    problems = group_problems(project, group)
    if problems:
        raise CliError("\n  ".join(problems))
    return group


def run_group_local(args: argparse.Namespace, project: Project) -> int:
    """Every member's steps here, in order; 0 when every member delivered, else 1."""
    from ferry import pipeline
    from ferry.cli import local

    try:
        group = runnable_group(project, args.export)
    except CliError as error:
        print(f"ferry run: {error}", file=sys.stderr)
        return 1
    first = local.local_run_info(args, "local")  # the group's run: its id and interval
    go_on = True
    for member in group.members:
        if not go_on:
            print(f"{member.job}: not run (the member before it did not deliver)")
            continue
        run = dataclasses.replace(first, export_id=member.job, group_id=group.id)
        runner = run_import if member.kind == "import" else local.run_one
        delivered = runner(run, as_json=False) == 0
        go_on = delivered or member.continue_on_failure
    ids = [member.job for member in group.members]
    summary = pipeline.summarize_group(group.id, first.run_id, ids, link="", log=log)
    print(f"Group run {summary.group_run_id}: {summary.outcome}")
    for export_id, record in summary.members:
        print(f"  {export_id}: {record.outcome if record else 'not run'}")
    return 0 if summary.outcome in ("success", "empty") else 1
