"""include/connections.yaml: which owners (teams) may use which Airflow connection.

    connections:
      pg_crm:
        shared_with: [data-platform, marketing]   # export owners allowed to use it

An export uses the connection of the table it reads (tables.yaml `connection:`) and those of
its destinations (`connection:`, a webhook's `signing_connection:`; email's default
smtp_default). Its `owner` must be in the `shared_with` of each of them that is listed here,
else the export does not load and `ferry validate` names the owner and the connection.
A connection not listed is open to every owner, so a project without the file behaves as
before; `shared_with: []` shares a listed connection with no one. A listed connection whose
entry has errors (or a connections.yaml that does not load at all) is closed until fixed:
sharing fails closed, never open.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ferry.spec import models
from ferry.spec.base import ConnectionId, Spec
from ferry.spec.models import ExportSpec, Owner
from ferry.spec.project import Project
from ferry.spec.reader import broken_key

FILE_NAME = "connections.yaml"
ALL = "*"  # in broken_entries["connections"]: the whole file failed to load


class ConnectionSharing(Spec):
    """Who may use one connection."""

    shared_with: list[Owner] = Field(description="Export owners (teams) that may use it.")
    description: str = ""


class ConnectionsFile(Spec):
    connections: dict[ConnectionId, ConnectionSharing]


def close_if_unloaded(project: Project, path: Path) -> None:
    """A connections.yaml that exists but did not load at all closes every connection:
    what it would have refused is unknown, so nothing is shared by mistake."""
    entries = project.broken_entries.setdefault("connections", {})
    if broken_key(path) in project.broken and not project.connections and not entries:
        entries[ALL] = None


def used_connections(export: ExportSpec, project: Project) -> list[tuple[tuple, str, str]]:
    """(loc in the export's file, connection id, what uses it) for each connection it uses."""
    used = []
    table = _table_of(export, project)
    if table is not None:
        loc = ("source", _source_key(export.source))
        used.append((loc, project.tables[table].connection, f"table '{table}'"))
    for index, destination in enumerate(export.destinations):
        label = f"destination {destination.label}"
        if getattr(destination, "connection", None):
            used.append((("destinations", index, "connection"), destination.connection, label))
        if getattr(destination, "signing_connection", None):
            loc = ("destinations", index, "signing_connection")
            used.append((loc, destination.signing_connection, label))
    return used


def sharing_problems(export: ExportSpec, project: Project) -> list[tuple[tuple, str, str]]:
    """A problem at each place the export uses a connection its owner may not use."""
    problems = []
    for loc, connection, user in used_connections(export, project):
        problem = _refusal(export.owner, connection, user, project)
        if problem:
            problems.append((loc, *problem))
    return problems


def _refusal(owner: str, connection: str, user: str, project: Project) -> tuple[str, str] | None:
    broken = project.broken_entries.get("connections", {})
    if ALL in broken or connection in broken:
        problem = (
            f"owner '{owner}' may not use connection '{connection}' ({user}) until the "
            f"sharing of '{connection}' in {FILE_NAME} loads: it has errors of its own"
        )
        return problem, f"fix {FILE_NAME} first (see ferry validate)"
    sharing = project.connections.get(connection)
    if sharing is None or owner in sharing.shared_with:
        return None
    who = ", ".join(sharing.shared_with) or "no one"
    problem = (
        f"owner '{owner}' may not use connection '{connection}' ({user}): "
        f"{FILE_NAME} shares it with {who}"
    )
    hint = (
        f"ask an administrator to add {owner} to connections.{connection}.shared_with in "
        f"{FILE_NAME}, or give the export an owner it is shared with"
    )
    return problem, hint


def _table_of(export: ExportSpec, project: Project) -> str | None:
    """The table the export reads, or None while its source does not resolve (reported
    by the reference checks)."""
    try:
        table = project.table_of(export)
    except KeyError:
        return None
    return table if table in project.tables else None


def _source_key(source: models.Source) -> str:
    if isinstance(source, models.TableSource):
        return "table"
    return "report" if isinstance(source, models.ReportSource) else "segment"
