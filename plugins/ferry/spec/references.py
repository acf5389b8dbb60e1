"""Cross-file checks: each returns (loc, problem, hint) for the document that has the problem.

A definition names tables, columns, segments, targets and exports of other files; each
name must exist and be free of errors of its own, so the error is where the user looks.
"""

from __future__ import annotations

import re
from typing import Any

from ferry.column_types import base_type, canonical_type
from ferry.spec import models
from ferry.spec.catalogues import TableSpec
from ferry.spec.changes_rules import changes_problems
from ferry.spec.columns import column_for, output_columns
from ferry.spec.errors import did_you_mean
from ferry.spec.models import ExportSpec, GroupSpec, SegmentSpec
from ferry.spec.project import Project
from ferry.spec.re2 import re2_problem
from ferry.spec.reader import Document
from ferry.spec.report import report_problems
from ferry.spec.values import time_column_problem, value_problem

Problem = tuple[tuple, str, str]  # (loc in the document, problem, hint)


def segment_problems(segment: SegmentSpec, project: Project) -> list[Problem]:
    table, problems = _segment_table(project, segment.type, ("type",))
    if table is None:
        return problems
    columns = project.tables[table].columns
    return list(_rule_problems(segment.rules, ("rules",), columns, table))


def segment_type_problems(tables: dict[str, TableSpec]) -> dict[str, Problem]:
    """tables.yaml: one table per segment type, else which one a segment reads is a guess.
    The later entries are refused (by name), the first keeps the type."""
    first: dict[str, str] = {}
    problems: dict[str, Problem] = {}
    for name, table in tables.items():
        kind = table.segment_type
        if kind is None:
            continue
        if kind in first:
            problem = f"segment_type {kind} is already the type of table '{first[kind]}'"
            hint = (
                f"one table per segment type: remove segment_type from '{name}' or '{first[kind]}'"
            )
            problems[name] = (("tables", name, "segment_type"), problem, hint)
        else:
            first[kind] = name
    return problems


def _segment_table(project: Project, segment_type: str, loc: tuple) -> tuple[str | None, list]:
    """The table of a segment type (tables.yaml segment_type:), or why there is none."""
    try:
        return project.table_for_segment_type(segment_type), []
    except KeyError as error:
        broken = project.broken_entries.get("tables", {})
        for name, raw in broken.items():
            if isinstance(raw, dict) and raw.get("segment_type") == segment_type:
                return None, [(loc, _has_errors("table", name), _FIX_FIRST)]
        hint = f"add segment_type: {segment_type} to the entry of that table in tables.yaml"
        return None, [(loc, str(error.args[0]), hint)]


def _rule_problems(rule, loc: tuple, columns: dict, table: str):
    if isinstance(rule, models.Condition):
        yield from _condition_problems(rule, loc, columns, table)
        return
    key, children = _rule_children(rule)
    for index, child in enumerate(children):
        child_loc = loc + (key, index) if key != "not" else loc + (key,)
        yield from _rule_problems(child, child_loc, columns, table)


def _condition_problems(condition: models.Condition, loc: tuple, columns: dict, table: str):
    yield from column_problems([condition.field], loc + ("field",), columns, table)
    if condition.op == "regex":
        yield from _regex_problems(condition.value, loc + ("value",))
    if condition.field in columns:
        column_type = columns[condition.field].type
        problem = value_problem(condition.op, condition.value, column_type)
        if problem:
            yield loc + ("value",), problem, ""


def _rule_children(rule) -> tuple[str, list]:
    if isinstance(rule, models.AllOf):
        return "all", rule.all
    if isinstance(rule, models.AnyOf):
        return "any", rule.any
    return "not", [rule.not_]


def _regex_problems(pattern: Any, loc: tuple):
    """The warehouse (DuckDB) runs RE2: what it would refuse is refused here, at load."""
    problem = re2_problem(str(pattern))
    if problem:
        yield loc, problem, ""


def column_problems(names: list[str], loc: tuple, columns: dict, table: str):
    for name in names:
        if name not in columns:
            yield loc, f"table '{table}' has no column '{name}'", did_you_mean(name, columns)


def export_problems(export: ExportSpec, project: Project) -> list[Problem]:
    problems = _source_problems(export, project)
    if problems:
        return problems
    table = project.table_of(export)
    columns = project.tables[table].columns
    problems += _field_problems(export, columns, table) + _chunk_by_problems(export, columns, table)
    report = isinstance(export.source, models.ReportSource)
    broken_report = report and report_problems(export.source, columns, table)
    problems += (broken_report or []) + _destination_problems(export)
    problems += changes_problems(export, project.tables[table], table)
    if not broken_report:  # a report's output columns exist once its columns do
        problems += _expectation_problems(export, project.tables[table])
    return problems


_FIX_FIRST = "fix it first"


def _has_errors(kind: str, name: str) -> str:
    return f"{kind} '{name}' has errors of its own"


def _source_problems(export: ExportSpec, project: Project) -> list[Problem]:
    source = export.source
    if isinstance(source, models.TableSource):
        return reference_problems(project, "table", source.table, ("source", "table"))
    if isinstance(source, models.ReportSource):
        return reference_problems(project, "table", source.table, ("source", "report"))
    problems = reference_problems(project, "segment", source.segment, ("source", "segment"))
    problems = problems or reference_problems(project, "target", export.target, ("target",))
    if problems:
        return problems
    if export.contacts_of_accounts:
        return _contacts_problems(project.segments[source.segment], project)
    return []


def _contacts_problems(segment: SegmentSpec, project: Project) -> list[Problem]:
    """The contacts of an account segment: the contact table holds the account table's key,
    and both are on one connection (the accounts' rule is a subquery of the contacts' read)."""
    loc = ("contacts_of_accounts",)
    if segment.type != "account":
        return [(loc, "only an account segment has contacts", "")]
    contacts, problems = _segment_table(project, "contact", loc)
    if contacts is None:
        return problems
    accounts = project.table_for_segment_type("account")  # the segment loaded: it exists
    contact_spec, account_spec = project.tables[contacts], project.tables[accounts]
    if account_spec.key not in contact_spec.columns:
        problem = (
            f"table '{contacts}' (segment_type contact) has no column '{account_spec.key}', "
            f"the key of table '{accounts}' that ties a contact to its account"
        )
        return [(loc, problem, f"add {account_spec.key} to the columns of '{contacts}'")]
    if contact_spec.connection != account_spec.connection:
        problem = (
            f"the contacts (table '{contacts}', connection {contact_spec.connection}) and the "
            f"accounts (table '{accounts}', connection {account_spec.connection}) are on "
            "different connections, and the accounts' rule runs inside the contacts' read"
        )
        hint = "put both tables on one connection in tables.yaml, or export the accounts"
        return [(loc, problem, hint)]
    return []


def reference_problems(project: Project, kind: str, name: Any, loc: tuple) -> list[Problem]:
    """A table, segment or target the export names: known, or why not (its own errors)."""
    known = {"table": project.tables, "segment": project.segments, "target": project.targets}
    if name in known[kind]:
        return []
    if _is_broken(project, kind, name):
        return [(loc, _has_errors(kind, name), _FIX_FIRST)]
    return [(loc, f"unknown {kind} '{name}'", did_you_mean(name or "", known[kind]))]


def _is_broken(project: Project, kind: str, name: Any) -> bool:
    if kind == "segment":  # a segment file is named by its id, as export files are
        return f"segments.{name}" in project.broken
    return str(name) in project.broken_entries.get(f"{kind}s", {})


def _field_problems(export: ExportSpec, columns: dict, table: str) -> list[Problem]:
    problems: list[Problem] = []
    if export.fields != "all":
        for index, choice in enumerate(export.fields):
            name = choice if isinstance(choice, str) else choice.field
            loc = ("fields", index) if isinstance(choice, str) else ("fields", index, "field")
            problems += column_problems([name], loc, columns, table)
            derived = not isinstance(choice, str) and choice.derive
            if name in columns and columns[name].pii and name not in export.pii and not derived:
                hint = f"add pii: {{{name}: keep}} (or hash, mask, tokenize, exclude)"
                problems.append(
                    (loc, f"'{name}' is PII and the export does not say how to send it", hint)
                )
    filters = export.filters
    if filters.window:
        problems += column_problems(
            [filters.window.column], ("filters", "window", "column"), columns, table
        )
        problems += _timecolumn_problems(
            filters.window.column, ("filters", "window", "column"), columns
        )
    if filters.date_column:
        problems += column_problems(
            [filters.date_column], ("filters", "date_column"), columns, table
        )
        problems += _timecolumn_problems(filters.date_column, ("filters", "date_column"), columns)
    for index, condition in enumerate(filters.where):
        problems += _condition_problems(condition, ("filters", "where", index), columns, table)
    for name in export.pii:
        problems += column_problems([name], ("pii", name), columns, table)
    return problems


def _chunk_by_problems(export: ExportSpec, columns: dict, table: str) -> list[Problem]:
    """chunk_by names a DATE or TIMESTAMP column of the table; a report's rows are groups."""
    chunk_by, loc = export.format.chunk_by, ("format", "chunk_by")
    if chunk_by is None:
        return []
    if isinstance(export.source, models.ReportSource):
        hint = f"group by the period instead: {{column: {chunk_by.column}, bucket: "
        return [(loc, "a report's rows are groups, not timed rows", hint + f"{chunk_by.every}}}")]
    loc += ("column",)
    problems = list(column_problems([chunk_by.column], loc, columns, table))
    problems = problems or _timecolumn_problems(chunk_by.column, loc, columns)
    if problems:
        return problems
    if (
        chunk_by.every == "hour"
        and base_type(canonical_type(columns[chunk_by.column].type)) == "DATE"
    ):
        problem = f"'{chunk_by.column}' is a DATE: it has no hours"
        return [(("format", "chunk_by", "every"), problem, "use every: day, week or month")]
    return []


def _timecolumn_problems(name: str, loc: tuple, columns: dict) -> list[Problem]:
    problem = name in columns and time_column_problem(columns[name].type)
    return [(loc, f"'{name}' {problem}", "")] if problem else []


def _expectation_problems(export: ExportSpec, table: TableSpec) -> list[Problem]:
    columns, excluded = output_columns(export, table)
    problems = [
        _missing_column(("expectations", index, "field"), item.field, columns, excluded)
        for index, item in enumerate(export.expectations)
        if item.field and column_for(columns, item.field) is None
    ]
    for index, item in enumerate(export.expectations):
        if item.expect == "regex" and item.pattern is not None:
            problems += python_regex_problems(item.pattern, ("expectations", index, "pattern"))
    return problems


def _missing_column(loc: tuple, field: str, columns: tuple, excluded: tuple) -> Problem:
    problem = f"the files have no column '{field}'"
    if field in excluded:
        hint = f"remove the expectation, or send it: pii: {{{field}: hash}} (or mask, keep)"
        return loc, f"{problem}: it is PII the export excludes", hint
    return loc, problem, did_you_mean(field, [column.name for column in columns])


def python_regex_problems(pattern: str, loc: tuple) -> list[Problem]:
    """Expectations run in pandas, with Python's re: a bad pattern would fail the run."""
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as error:
        return [(loc, f"not a valid regular expression: {error}", "")]
    return []


def _destination_problems(export: ExportSpec) -> list[Problem]:
    """Two destinations of one task name; their paths were checked by the model already."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, destination in enumerate(export.destinations):
        task_name = destination.label
        if task_name in seen:
            hint = f"give each a distinct name, e.g. name: {destination.type}_{index + 1}"
            problems.append((("destinations", index), f"a second {task_name} destination", hint))
        seen[task_name] = index
    return problems


def group_problems(group: GroupSpec, project: Project) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for index, member in enumerate(group.members):
        kind, job = member.kind, member.job
        loc = ("members", index, kind)
        known = project.exports if kind == "export" else project.imports
        if (kind, job) in seen:
            problems.append((loc, f"{kind} '{job}' is listed twice", "list each once"))
        elif f"{kind}s.{job}" in project.broken:
            problems.append((loc, f"{kind} '{job}' has errors of its own", "fix it first"))
        elif job not in known:
            problems.append((loc, f"unknown {kind} '{job}'", did_you_mean(job, known)))
        seen.add((kind, job))
    return problems


def check_dependencies(project: Project) -> None:
    """After all exports load: depends_on names must exist and must not form a circle."""
    known = set(project.tables) | set(project.segments) | set(project.exports)
    for export_id, export in list(project.exports.items()):
        for index, name in enumerate(export.depends_on or []):
            if name not in known:
                problem, hint = _dependency_problem(project, name, known)
                _unload(project, export_id, ("depends_on", index), problem, hint)
                break
    for export_id in _exports_in_cycles(project.exports):
        problem = "depends on itself through other exports"
        _unload(project, export_id, ("depends_on",), problem, "remove one link")


def _dependency_problem(project: Project, name: str, known: set[str]) -> tuple[str, str]:
    if _is_broken(project, "table", name):
        return _has_errors("table", name), _FIX_FIRST
    if _is_broken(project, "segment", name) or f"exports.{name}" in project.broken:
        return f"'{name}' has errors of its own", _FIX_FIRST
    return f"'{name}' is not a table, segment or export", did_you_mean(name, known)


def _unload(project: Project, export_id: str, loc: tuple, problem: str, hint: str) -> None:
    project.exports.pop(export_id)
    path = project.files.pop(f"exports:{export_id}")
    project.mark_broken(path, [Document(path, project.root).error(loc, problem, hint)])


def _exports_in_cycles(exports: dict[str, ExportSpec]) -> list[str]:
    edges = {
        key: [d for d in (spec.depends_on or []) if d in exports] for key, spec in exports.items()
    }
    in_cycle = []
    for start in edges:
        stack, seen = list(edges[start]), set()
        while stack:
            node = stack.pop()
            if node == start:
                in_cycle.append(start)
                break
            if node not in seen:
                seen.add(node)
                stack.extend(edges[node])
    return in_cycle
