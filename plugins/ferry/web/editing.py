"""The page's edits of definitions: duplicate, schedule, detach, remove.

The same YAML round trip as the command line (ferry.cli.edit: ruamel, comments and key
order kept, every edited file must still load or all edits are undone). A definition
tracked by git is changed in the working tree only: the answer says so, because the change
is not deployed to other machines until someone commits it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ferry import paths
from ferry.cli.connection import CliError
from ferry.cli.edit import (
    SCHEDULE_FIELDS,
    Document,
    add_tag,
    check_loads,
    check_new_file,
    checked_schedule,
    checked_timezone,
    definition_path,
    drop_tag,
    quoted,
)
from ferry.exceptions import Terminal
from ferry.spec.base import ID_PATTERN
from ferry.spec.loader import Project, broken_key, load_project
from ferry.spec.models import ExportSpec
from ferry.spec.schedule import DETACHED_TAG, export_status

MAX_DEFINITION_BYTES = 256 * 1024  # far above any real export; the loader bounds it too


class EditRefused(ValueError, Terminal):
    """An edit that cannot be made as asked; nothing was changed."""


@dataclass(frozen=True)
class Edited:
    """What an edit changed: the files and, for files under git, a note saying so."""

    export_ids: list[str]
    files: list[Path]

    @property
    def git_note(self) -> str:
        tracked = [path for path in self.files if under_git(path)]
        if not tracked:
            return ""
        names = ", ".join(path.name for path in tracked)
        return (
            f"{names}: changed in the git working tree only; commit and deploy the change "
            "so that it is reviewed and reaches every machine"
        )

    def to_json(self) -> dict:
        """The answer: files named from include/'s parent, never the server's full path."""
        base = paths.include_dir().parent
        return {
            "exports": self.export_ids,
            "files": [
                str(p.relative_to(base)) if p.is_relative_to(base) else p.name for p in self.files
            ],
            "git": self.git_note,
        }


def under_git(path: Path) -> bool:
    """Whether git tracks the file (or would, once added: it is inside a repository)."""
    try:
        found = subprocess.run(
            ["git", "-C", str(path.parent), "rev-parse", "--is-inside-work-tree"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return found.returncode == 0 and found.stdout.strip() == "true"


def current() -> Project:
    return load_project(paths.include_dir())


def _refused(error: CliError) -> EditRefused:
    return EditRefused(str(error))


def duplicate(project: Project, export: ExportSpec, new_id: str | None) -> Edited:
    """A copy of the definition, comments and all, switched off (enabled: false)."""
    new_id = new_id or _free_id(project, export.id)
    if not re.fullmatch(ID_PATTERN, new_id):
        raise EditRefused(f"'{new_id}' is not an id: lowercase letters, digits and _")
    target = definition_path(project, export).with_name(f"{new_id}.yaml")
    if new_id in project.exports or target.exists():
        raise EditRefused(f"export '{new_id}' already exists ({target.name})")
    document = Document(definition_path(project, export))
    document.set("id", new_id)
    document.set("name", f"Copy of {export.name}")
    document.set("enabled", False, after=SCHEDULE_FIELDS)
    drop_tag(document, DETACHED_TAG)
    document.write(target)
    try:
        check_new_file(target)
    except CliError as error:
        raise _refused(error) from None
    return Edited([new_id], [target])


def _free_id(project: Project, export_id: str) -> str:
    folder = project.root / "exports"
    for number in range(1, 1000):
        candidate = f"{export_id}_copy" + (f"_{number}" if number > 1 else "")
        if candidate not in project.exports and not (folder / f"{candidate}.yaml").exists():
            return candidate[:63]
    raise EditRefused(f"no free id for a copy of {export_id}: give new_id")


def schedule(
    project: Project,
    exports: list[ExportSpec],
    *,
    override: str | None,
    timezone: str | None,
    active: bool,
) -> Edited:
    """Switch exports on or off; with override, give them all one new schedule too."""
    try:
        new = checked_schedule(override) if override is not None else None
        zone = checked_timezone(timezone) if timezone else None
    except CliError as error:
        raise _refused(error) from None
    documents = [Document(definition_path(project, export)) for export in exports]
    for document in documents:
        if new is not None:
            document.set("schedule", quoted(new), after=("destinations",))
            if zone:
                document.set("timezone", zone)
        document.set("enabled", active, after=SCHEDULE_FIELDS)
    return _write_all(exports, documents)


def detach(project: Project, export: ExportSpec, *, undo: bool = False) -> Edited:
    """Tag the export detached (it uses no connection and does not run), or re-attach it."""
    document = Document(definition_path(project, export))
    if undo:
        drop_tag(document, DETACHED_TAG)
    else:
        add_tag(document, DETACHED_TAG)
    return _write_all([export], [document])


def _write_all(exports: list[ExportSpec], documents: list[Document]) -> Edited:
    for document in documents:
        document.write()
    try:
        check_loads([d.path for d in documents], documents)
    except CliError as error:
        raise _refused(error) from None
    return Edited([e.id for e in exports], [d.path for d in documents])


def replace_text(project: Project, export: ExportSpec, text: str) -> Edited:
    """Write a new text of the definition, kept only if it loads with the same id."""
    path = definition_path(project, export)
    if len(text.encode("utf-8")) > MAX_DEFINITION_BYTES:
        raise EditRefused(f"the definition is over {MAX_DEFINITION_BYTES:,} bytes")
    original = path.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    after = load_project(project.root)
    errors = after.broken.get(broken_key(path), [])
    if errors or export.id not in after.exports:
        path.write_text(original, encoding="utf-8")
        why = "\n".join(map(str, errors)) or f"the id must stay {export.id}: duplicate to copy it"
        raise EditRefused(f"the definition does not load, nothing was changed:\n{why}")
    return Edited([export.id], [path])


def remove(project: Project, export: ExportSpec) -> Edited:
    """Delete the definition file; the runs it made stay in the run history.

    Refused while a group runs the export: the group would no longer load.
    """
    groups = sorted(g.id for g in project.groups.values() if export.id in _members(g))
    if groups:
        raise EditRefused(
            f"export '{export.id}' is a member of group {', '.join(groups)}: "
            "take it out of the group first"
        )
    path = definition_path(project, export)
    path.unlink()
    return Edited([export.id], [path])


def _members(group) -> list[str]:
    return [member.job for member in group.members]


def should_pause(project: Project, export_id: str) -> bool:
    """Whether the export's DAG is to be paused after an edit (switched off or detached)."""
    export = project.exports.get(export_id)
    return export is None or export_status(export) in ("disabled", "detached")
