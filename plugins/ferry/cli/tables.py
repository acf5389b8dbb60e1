"""`ferry tables import`: tables.yaml entries from a source's catalogue; and the live half of
`ferry validate --live`: tables.yaml compared with each source it names.

Both open databases, which nothing else about definitions does: loading them stays offline.
The import writes tables.yaml only if the new text loads with Ferry's own loader (no entry
broken that was not before), by a rename, so a DAG parse never reads half a file.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from ferry import catalogue_drift, catalogue_names, paths
from ferry.catalogue_import import ImportClash, LiveTable, TableReport, merge, tables_of
from ferry.cli.connection import CliError
from ferry.spec.errors import DefinitionError
from ferry.spec.loader import Project, load_project
from ferry.spec.reader import Document, UnreadableFile

TABLES_FILE = Path("warehouse") / "tables.yaml"


def register(subparsers) -> None:
    tables = subparsers.add_parser("tables", help="the table catalogue (tables.yaml)")
    commands = tables.add_subparsers(dest="tables_command", required=True, metavar="COMMAND")
    do = commands.add_parser(
        "import", help="add or update tables.yaml entries from a connection's catalogue"
    )
    do.add_argument("--connection", required=True, help="the Airflow connection to read")
    do.add_argument("--schema", help="the schema to read (default: the connection's own)")
    do.add_argument("--tables", help="only these tables: a,b (default: every table)")
    do.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    do.set_defaults(handler=run_import)


def run_import(args: argparse.Namespace) -> int:
    try:
        return import_tables(args)
    except CliError as error:
        print(f"ferry tables import: {error}", file=sys.stderr)
        return 2


def import_tables(args: argparse.Namespace) -> int:
    """Describe the connection's tables and merge them into tables.yaml; print per table."""
    path = paths.include_dir() / TABLES_FILE
    document = TablesDocument(path)
    naming, live, left_out = read_catalogue(args.connection, args.schema, _names(args.tables))
    try:
        reports = merge(document.tables, args.connection, live, naming) + left_out
    except ImportClash as clash:
        raise CliError(f"{clash}; nothing was written") from None
    text = document.text()
    _check_loads(path, document.original, text, reports)
    for report in reports:
        print("\n".join(report.lines()))
    if args.dry_run:
        print(f"dry run: {path} not changed")
        return 0
    if text != document.original:
        write_atomically(path, text)
    print(f"wrote {path}" if text != document.original else f"{path} already up to date")
    _say_what_validate_finds(path)
    return 0


def _names(listed: str | None) -> list[str] | None:
    if listed is None:
        return None
    names = [name.strip() for name in listed.split(",") if name.strip()]
    if not names:
        raise CliError("--tables names no table: give a,b")
    return names


def read_catalogue(
    connection: str, schema: str | None, only: list[str] | None
) -> tuple[catalogue_names.Naming, list[LiveTable], list[TableReport]]:
    """How the connection names tables; its tables (those named in only, if given),
    described in one snapshot; and a report for each whose name Ferry cannot read."""
    from ferry import sources

    with sources.source_for(connection).snapshot() as snapshot:
        naming = naming_of(snapshot)
        names = snapshot.tables(schema)
        if not names:
            where = f"schema {schema}" if schema else "its default schema"
            raise CliError(f"connection {connection} has no tables in {where}")
        if only is not None:
            names = _chosen(names, only, connection, schema, naming)
        live, left_out = [], []
        for name in names:
            problem = naming.problem(name, connection)
            if problem:
                entry = naming.entry_id(name)
                left_out.append(TableReport(entry, name, "left out", notes=[problem]))
                continue
            live.append(LiveTable(name, snapshot.describe(name)))
        return naming, live, left_out


def naming_of(snapshot: object) -> catalogue_names.Naming:
    """A files snapshot's tables are paths; any other source's are schema.table."""
    from ferry.sql import FILES

    files = getattr(snapshot, "dialect", None) is FILES
    return catalogue_names.FILES if files else catalogue_names.DATABASE


def _chosen(
    names: list[str],
    only: list[str],
    connection: str,
    schema: str | None,
    naming: catalogue_names.Naming,
) -> list[str]:
    """The names asked for, by table name or by schema.table, in the source's order."""
    wanted = set(only)
    chosen = [name for name in names if name in wanted or naming.split(name)[1] in wanted]
    found = set(chosen) | {naming.split(name)[1] for name in chosen}
    missing = [name for name in only if name not in found]
    if missing:
        where = f"schema {schema}" if schema else "its default schema"
        raise CliError(
            f"connection {connection} has no table {', '.join(missing)} in {where}; its "
            f"tables there: {', '.join(names) or 'none'}"
        )
    return chosen


class TablesDocument:
    """tables.yaml for a round trip that keeps comments and layout (an empty one if missing).

    Read with Ferry's bounded reader first: it is a definition file like any other."""

    def __init__(self, path: Path) -> None:
        from ruamel.yaml import YAML
        from ruamel.yaml.util import load_yaml_guess_indent

        self.path = path
        self.original = path.read_text(encoding="utf-8") if path.exists() else ""
        if self.original:
            _check_readable(path)
        _, indent, dash_offset = load_yaml_guess_indent(self.original or "tables:\n")
        self.yaml = YAML()
        self.yaml.preserve_quotes = True
        self.yaml.width = 4096
        self.yaml.indent(mapping=indent or 2, sequence=(indent or 2) + 2, offset=dash_offset or 2)
        self.data = self.yaml.load(self.original or "tables:\n")
        try:
            self.tables = tables_of(self.data)
        except ImportClash as error:
            raise CliError(f"{path}: {error}") from None

    def text(self) -> str:
        stream = io.StringIO()
        self.yaml.dump(self.data, stream)
        return stream.getvalue()


def _check_readable(path: Path) -> None:
    from ferry.spec.reader import read_yaml

    try:
        read_yaml(path, str(path))
    except UnreadableFile as unreadable:
        raise CliError(f"fix tables.yaml first: {unreadable.error}") from None


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        Path(temporary).replace(path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _tables_alone(text: str) -> Project:
    """The text loaded as tables.yaml by Ferry's loader, in a folder of its own."""
    with tempfile.TemporaryDirectory(prefix="ferry-tables-") as folder:
        root = Path(folder) / "include"
        (root / TABLES_FILE).parent.mkdir(parents=True)
        (root / TABLES_FILE).write_text(text, encoding="utf-8")
        return load_project(root)


def _check_loads(path: Path, before: str, after: str, reports: list[TableReport]) -> None:
    """Refuse a text that breaks an entry (or the file) that loaded before."""
    old = _tables_alone(before) if before.strip() else Project(root=path.parent)
    new = _tables_alone(after)
    broken_before = set(old.broken_entries.get("tables", {}))
    broken = set(new.broken_entries.get("tables", {})) - broken_before
    if broken or len(new.tables) < len(old.tables):
        shown = [str(e) for e in new.errors if not _entry_of(e) or _entry_of(e) in broken]
        raise CliError(
            "the import would break entries of tables.yaml, nothing was written; fix them "
            "first (or the source):\n" + "\n".join(shown)
        )
    for report in reports:
        if report.entry in broken_before:
            report.notes.append("this entry does not load (nor did it before): `ferry validate`")


def _entry_of(error: DefinitionError) -> str | None:
    parts = error.field.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "tables" else None


def _say_what_validate_finds(path: Path) -> None:
    """Exports that use a changed column now fail to load: say so, as validate would."""
    errors = load_project(path.parent.parent).errors
    if errors:
        print(f"note: `ferry validate` finds {len(errors)} problem(s) in the definitions now")


# ferry validate --live


def check_live(project: Project) -> int:
    """Compare each loaded table with its source; print a line per drift; 1 if any drift."""
    from ferry import sources

    path = project.root / TABLES_FILE
    if not project.tables or not path.exists():
        print("live: no tables to compare")
        return 0
    document = Document(path, project.root)
    by_connection: dict[str, list[str]] = defaultdict(list)
    for table_id, table in project.tables.items():
        by_connection[table.connection].append(table_id)
    drifts: list[catalogue_drift.Drift] = []
    for connection, table_ids in by_connection.items():
        specs = {table_id: project.tables[table_id] for table_id in table_ids}
        try:
            with sources.source_for(connection).snapshot() as snapshot:
                naming = naming_of(snapshot)
                drifts += catalogue_drift.connection_drift(specs, snapshot.describe, naming)
        except Exception as error:
            if not _source_problem(error):
                raise
            drifts.append(catalogue_drift.unreachable(connection, table_ids, error))
    return _report(document, drifts, len(project.tables), len(by_connection))


def _source_problem(error: Exception) -> bool:
    from ferry.exceptions import kind_of

    return kind_of(error) in ("terminal", "transient") or isinstance(error, OSError)


def _report(document: Document, drifts: list, tables: int, connections: int) -> int:
    problems = [d for d in drifts if not d.warning]
    for drift in drifts:
        line = str(document.error(drift.loc, drift.problem, drift.hint))
        print(f"warning: {line}" if drift.warning else line)
    warned = len(drifts) - len(problems)
    also = f", {warned} warning(s)" if warned else ""
    if problems:
        print(f"live: {len(problems)} drift(s){also} in {tables} tables on {connections} "
              "connection(s)")  # fmt: skip
        return 1
    print(f"live: OK: {tables} tables on {connections} connection(s) match their sources{also}")
    return 0
