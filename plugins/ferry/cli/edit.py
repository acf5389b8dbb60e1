"""Commands that edit export definitions in place: duplicate, schedule, detach.

ruamel.yaml round-trips a file, so comments, key order, quoting and flow style survive and
the diff a reviewer sees is the change alone. Every edited file must still load; if one
does not, all edits of the command are undone. Pausing or unpausing the DAG goes through
Airflow's REST API (see ferry.cli.connection), because Airflow pauses a DAG only when it first
creates it: a definition switched on again must be unpaused by someone.

Detaching: `ferry detach EXPORT` adds the tag `detached` to the definition. A detached
export uses none of its connections: its DAG is paused and has no schedule, and the UI
shows why (description and tags), until `ferry detach EXPORT --undo` removes the tag. The
tag, not a separate marker file, keeps the definition the one place that says what runs,
reviewed in git like every other change.
"""

from __future__ import annotations

import argparse
import io
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ferry import paths
from ferry.airflow_api import AirflowApiError, AirflowClient, AirflowNotFound
from ferry.cli.connection import CliError, add_connection_options, client_from, guarded
from ferry.cli.deployed import current_definitions, find_export
from ferry.spec.loader import broken_key, load_project
from ferry.spec.models import ID_PATTERN, ExportSpec, check_schedule
from ferry.spec.schedule import DETACHED_TAG, export_status, normalize

SCHEDULE_FIELDS = ("schedule", "timezone", "expires")  # new switches go after these


def register(subparsers) -> None:
    duplicate = subparsers.add_parser("duplicate", help="copy an export as a new, inactive one")
    duplicate.add_argument("export")
    duplicate.add_argument("new_id", help="the copy's id (lowercase letters, digits, _)")
    duplicate.add_argument("--name", help="the copy's name (default: 'Copy of <name>')")
    duplicate.set_defaults(handler=guarded(duplicate_export))
    _add_schedule(subparsers)
    detach = subparsers.add_parser("detach", help="deactivate an export: it uses no connection")
    detach.add_argument("export")
    detach.add_argument("--undo", action="store_true", help="re-attach it")
    add_connection_options(detach)
    detach.set_defaults(handler=guarded(detach_export))


def _add_schedule(subparsers) -> None:
    schedule = subparsers.add_parser("schedule", help="set, stop or restart exports' schedules")
    schedule.add_argument("exports", nargs="+", metavar="EXPORT")
    change = schedule.add_mutually_exclusive_group(required=True)
    change.add_argument("--set", metavar="SCHEDULE", help="cron, preset or refresh, for all")
    change.add_argument("--off", action="store_true", help="disable: keep each schedule, pause")
    change.add_argument("--on", action="store_true", help="enable again: unpause")
    schedule.add_argument("--timezone", help="with --set: the schedule's IANA time zone")
    add_connection_options(schedule)
    schedule.set_defaults(handler=guarded(schedule_exports))


class Document:
    """One YAML file, loaded for a round trip that keeps comments and formatting."""

    def __init__(self, path: Path) -> None:
        from ruamel.yaml import YAML
        from ruamel.yaml.util import load_yaml_guess_indent

        self.path = path
        self.original = path.read_text(encoding="utf-8")
        _, item_indent, dash_offset = load_yaml_guess_indent(self.original)
        self.yaml = YAML()
        self.yaml.preserve_quotes = True
        self.yaml.width = 4096
        # Mappings nest by 2; lists keep the file's own "- " placement.
        self.yaml.indent(mapping=2, sequence=item_indent or 4, offset=dash_offset or 2)
        self.data = self.yaml.load(self.original)

    def text(self) -> str:
        stream = io.StringIO()
        self.yaml.dump(self.data, stream)
        return stream.getvalue()

    def set(self, key: str, value, *, after: tuple[str, ...] = ("schedule",)) -> None:
        """Replace a field's value in place, or add it after the last of `after` (or last)."""
        if key in self.data:
            self.data[key] = value
            return
        keys = list(self.data)
        present = [keys.index(name) + 1 for name in after if name in keys]
        self.data.insert(max(present, default=len(keys)), key, value)

    def write(self, path: Path | None = None) -> None:
        (path or self.path).write_text(self.text(), encoding="utf-8")

    def restore(self) -> None:
        self.path.write_text(self.original, encoding="utf-8")


def quoted(text: str):
    """A double-quoted YAML string: crons start with '*' or digits, and 'off' is a boolean
    to the YAML 1.1 loader that reads definitions."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    return DoubleQuotedScalarString(text)


def definition_path(project, export: ExportSpec) -> Path:
    return project.files[f"exports:{export.id}"]


def check_loads(paths_written: list[Path], documents: list[Document]) -> None:
    """Undo every edit if an edited file no longer loads; say why."""
    broken = load_project(paths.include_dir()).broken
    errors = [error for path in paths_written for error in broken.get(broken_key(path), [])]
    if errors:
        for document in documents:
            document.restore()
        raise CliError("the change would break the definition, nothing was changed:\n"
                       + "\n".join(map(str, errors)))  # fmt: skip


# ferry duplicate


def duplicate_export(args: argparse.Namespace) -> int:
    """Write include/exports/NEW_ID.yaml: the export's definition, comments and all, inactive."""
    if not re.fullmatch(ID_PATTERN, args.new_id):  # first: the id names a file
        raise CliError(f"'{args.new_id}' is not an id: lowercase letters, digits and _")
    project = current_definitions()
    source = find_export(project, args.export)
    target = definition_path(project, source).with_name(f"{args.new_id}.yaml")
    if args.new_id in project.exports or target.exists():
        raise CliError(f"export '{args.new_id}' already exists ({target})")
    document = Document(definition_path(project, source))
    document.set("id", args.new_id)
    document.set("name", args.name or f"Copy of {source.name}")
    document.set("enabled", False, after=SCHEDULE_FIELDS)
    drop_tag(document, DETACHED_TAG)
    document.write(target)
    check_new_file(target)
    print(f"wrote {target}: inactive until `ferry schedule {args.new_id} --on`")
    return 0


def check_new_file(target: Path) -> None:
    errors = load_project(paths.include_dir()).broken.get(broken_key(target))
    if errors:
        target.unlink()
        raise CliError(
            "the copy does not load, nothing was written:\n" + "\n".join(map(str, errors))
        )


def drop_tag(document: Document, tag: str) -> None:
    tags = document.data.get("tags")
    if tags and tag in tags:
        tags.remove(tag)
        if not tags:
            del document.data["tags"]


def add_tag(document: Document, tag: str) -> None:
    from ruamel.yaml.comments import CommentedSeq

    if document.data.get("tags") is None:
        tags = CommentedSeq()
        tags.fa.set_flow_style()
        document.set("tags", tags, after=(*SCHEDULE_FIELDS, "enabled"))
    if tag not in document.data["tags"]:
        document.data["tags"].append(tag)


# ferry schedule


def schedule_exports(args: argparse.Namespace) -> int:
    """Change several exports at once; each keeps its other fields and its comments."""
    project = current_definitions()
    exports = [find_export(project, export_id) for export_id in dict.fromkeys(args.exports)]
    edit = _schedule_edit(args)
    documents = [Document(definition_path(project, export)) for export in exports]
    for document in documents:
        edit(document)
        document.write()
    check_loads([d.path for d in documents], documents)
    after = current_definitions()
    for export in exports:
        print(f"{export.id}: {_describe(after.exports[export.id])}")
    if args.set:
        return 0
    return _apply_pause(args, [after.exports[e.id] for e in exports])


def _schedule_edit(args: argparse.Namespace):
    if args.timezone and not args.set:
        raise CliError("--timezone goes with --set")
    if args.on or args.off:
        return lambda document: document.set("enabled", bool(args.on), after=SCHEDULE_FIELDS)
    schedule = checked_schedule(args.set)
    timezone = checked_timezone(args.timezone) if args.timezone else None

    def edit(document: Document) -> None:
        document.set("schedule", quoted(schedule), after=("destinations",))
        if timezone:
            document.set("timezone", timezone)

    return edit


def checked_schedule(text: str) -> str:
    try:
        return check_schedule(normalize(text))
    except ValueError as error:
        raise CliError(str(error)) from None


def checked_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"unknown time zone '{name}': use an IANA name such as Europe/Berlin"
        raise CliError(message) from None
    return name


def _describe(export: ExportSpec) -> str:
    status = export_status(export)
    where = "" if export.timezone == "UTC" else f" ({export.timezone})"
    return f"schedule {export.schedule}{where}, {status}"


# ferry detach


def detach_export(args: argparse.Namespace) -> int:
    """Tag the export detached (or remove the tag) and pause (or unpause) its DAG."""
    project = current_definitions()
    export = find_export(project, args.export)
    document = Document(definition_path(project, export))
    if args.undo:
        drop_tag(document, DETACHED_TAG)
    else:
        add_tag(document, DETACHED_TAG)
    document.write()
    check_loads([document.path], [document])
    export = current_definitions().exports[export.id]
    print(f"{export.id}: {_describe(export)}")
    return _apply_pause(args, [export])


# pausing through the API


def _apply_pause(args: argparse.Namespace, exports: list[ExportSpec]) -> int:
    """Pause deactivated exports and unpause active ones, now, in Airflow."""
    try:
        client = client_from(args)
        for export in exports:
            paused = export_status(export) in ("disabled", "detached")
            print(f"  {export.dag_id}: {_set_paused(client, export.dag_id, paused)}")
    except (CliError, AirflowApiError, OSError) as error:
        print(f"  Airflow not updated ({error}); the definition changed: Airflow pauses only "
              "new DAGs by itself, so pause or unpause the DAG in its UI")  # fmt: skip
        return 1
    return 0


def _set_paused(client: AirflowClient, dag_id: str, paused: bool) -> str:
    try:
        client.set_paused(dag_id, paused)
    except AirflowNotFound:
        return "not in Airflow yet: it starts " + ("paused" if paused else "unpaused")
    return "paused in Airflow" if paused else "unpaused in Airflow"
