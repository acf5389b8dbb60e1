"""`ferry remove EXPORT [--yes]`: delete an export's definition file; its runs stay.

The run history (`ferry history EXPORT`), the download audit and Airflow's own run history
keep every past run: only the definition goes. Airflow drops the export's DAG when it next
parses the DAGs folder; files in the download area age out by the default retention.
A definition under git is deleted in the working tree only: the deletion is a change to
review and commit like any other. An export a group runs, or another export depends on
(depends_on), is refused, naming them: removing it would break their definitions.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from ferry import history, paths
from ferry.cli.connection import CliError, guarded
from ferry.cli.deployed import current_definitions
from ferry.spec.loader import Project
from ferry.spec.reader import broken_key, definition_files, display_name


def register(subparsers) -> None:
    remove = subparsers.add_parser(
        "remove", help="delete an export's definition file (its past runs stay in history)"
    )
    remove.add_argument("export")
    remove.add_argument("--yes", action="store_true", help="remove without asking")
    remove.set_defaults(handler=guarded(remove_export))


def remove_export(args: argparse.Namespace) -> int:
    project = current_definitions()
    path = definition_of(project, args.export)
    refusals = users_of(project, args.export)
    if refusals:
        raise CliError(
            f"export '{args.export}' is still used: {'; '.join(refusals)}; take it out of "
            "those definitions first, nothing was removed"
        )
    if not args.yes and not _confirmed(path):
        print("nothing was removed")
        return 1
    tracked = _tracked_by_git(path)
    path.unlink()
    runs = len(history.list_runs(args.export, limit=1_000_000))
    print(f"removed {path}")
    print(f"  its {runs} past runs stay in the run history: ferry history {args.export}")
    print(f"  Airflow drops export__{args.export} when it next parses the DAGs folder")
    if tracked:
        print("  under git: removed in the working tree only; commit the deletion to make it final")
    return 0


def definition_of(project: Project, export_id: str) -> Path:
    """The export's file, whether it loaded or has errors; CliError when there is none."""
    if export_id in project.exports:
        return project.files[f"exports:{export_id}"]
    for path in definition_files(paths.include_dir() / "exports"):
        if broken_key(path) == f"exports.{export_id}":
            return path
    raise CliError(f"no export '{export_id}' in {paths.include_dir() / 'exports'}")


def users_of(project: Project, export_id: str) -> list[str]:
    """Each definition that names the export: the groups running it, the exports after it."""
    users = [
        f"group '{group.id}' ({_shown(project, f'groups:{group.id}')}) runs it"
        for group in project.groups.values()
        if any(member.export == export_id for member in group.members)
    ]
    users += [
        f"export '{other.id}' ({_shown(project, f'exports:{other.id}')}) depends on it"
        for other in project.exports.values()
        if export_id in (other.depends_on or [])
    ]
    return users


def _shown(project: Project, key: str) -> str:
    """A definition's file as validate names it: include/groups/x.yaml."""
    return display_name(project.files[key], project.root)


def _confirmed(path: Path) -> bool:
    if not sys.stdin.isatty():
        raise CliError(f"remove {path}? Nothing was removed: confirm with --yes")
    answer = input(f"Remove {path}? Its past runs stay in the history. [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _tracked_by_git(path: Path) -> bool:
    """Whether git tracks the file (then its deletion is a change in the working tree)."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "--error-unmatch", path.name],
            cwd=path.parent, capture_output=True, timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
