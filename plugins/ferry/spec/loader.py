"""Load include/ into a Project: every definition that is valid, and an error for each that is not.

A broken file never stops the others from loading; each error names the file, the line,
the field and the fix.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ferry.spec import models
from ferry.spec.errors import DefinitionError, did_you_mean, pydantic_error, shorten
from ferry.spec.models import (
    ExportSpec,
    GroupSpec,
    SegmentSpec,
    TablesFile,
    TableSpec,
    TargetsFile,
    TargetSpec,
)
from ferry.spec.re2 import re2_problem
from ferry.spec.reader import (  # broken_key: also for the CLI
    Document,
    UnreadableFile,
    broken_key,
    definition_files,
    display_name,
)
from ferry.spec.values import time_column_problem, value_problem

Model = TypeVar("Model", bound=BaseModel)
MAX_ERRORS = 50  # per file; the last one shown says how many more there are
Problem = tuple[tuple, str, str]  # (loc in the document, problem, hint)


@dataclass
class Project:
    """Everything under include/ that loaded, and what did not."""

    root: Path
    tables: dict[str, TableSpec] = field(default_factory=dict)
    targets: dict[str, TargetSpec] = field(default_factory=dict)
    segments: dict[str, SegmentSpec] = field(default_factory=dict)
    exports: dict[str, ExportSpec] = field(default_factory=dict)
    groups: dict[str, GroupSpec] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    errors: list[DefinitionError] = field(default_factory=list)
    broken: dict[str, list[DefinitionError]] = field(default_factory=dict)  # by broken_key
    # tables/targets with errors of their own, by file field then name: their raw data
    broken_entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def mark_broken(self, path: Path, errors: list[DefinitionError]) -> str:
        """Record a file's errors; returns its broken_key (which names its error DAG)."""
        self.errors.extend(errors)
        key = broken_key(path)
        self.broken[key] = self.broken.get(key, []) + errors
        return key

    def table_of(self, export: ExportSpec) -> str:
        """The table an export reads: its own, or the one of its segment's type."""
        if isinstance(export.source, models.TableSource):
            return export.source.table
        if export.contacts_of_accounts:
            return "contact"
        return self.table_for_segment_type(self.segments[export.source.segment].type)

    def table_for_segment_type(self, segment_type: str) -> str:
        for name, table in self.tables.items():
            if table.segment_type == segment_type:
                return name
        raise KeyError(f"no table in tables.yaml has segment_type {segment_type}")


@functools.cache
def _vocabulary() -> frozenset[str]:
    """Every field name of every model, for 'did you mean' on unknown keys."""
    names: set[str] = set()
    for model in vars(models).values():
        if isinstance(model, type) and issubclass(model, models.Spec):
            names.update(info.alias or name for name, info in model.model_fields.items())
    return frozenset(names)


def load_project(root: Path) -> Project:
    """Load tables, targets, segments, exports and groups under root (include/)."""
    project = Project(root=root)
    project.tables = _load_mapping_file(project, root / "warehouse" / "tables.yaml", TablesFile)
    project.targets = _load_mapping_file(project, root / "targets.yaml", TargetsFile)
    _load_folder(project, "segments", SegmentSpec, project.segments, _segment_problems)
    _load_folder(project, "exports", ExportSpec, project.exports, _export_problems)
    _check_dependencies(project)
    _load_folder(project, "groups", GroupSpec, project.groups, _group_problems)
    return project


def _load_mapping_file(project: Project, path: Path, model: type[Model]) -> dict:
    """tables.yaml or targets.yaml: each entry checked on its own, so a broken table or
    target refuses only what uses it; a problem of the file itself refuses every entry."""
    if not path.exists():
        return {}
    try:
        entries, broken, errors = _parse_entries(path, model, project.root)
    except Exception as error:  # a bug in a check must not stop the loading
        entries, broken, errors = {}, {}, [_internal_error(path, project.root, error)]
    project.broken_entries[_entries_field(model)] = broken
    if errors:
        _mark_broken(project, path, _capped(errors, len(errors)))
    return entries


def _entries_field(model: type[Model]) -> str:
    return next(iter(model.model_fields))  # TablesFile: tables, TargetsFile: targets


def _parse_entries(path: Path, model: type[Model], root: Path) -> tuple[dict, dict, list]:
    """(valid entries, raw data of entries with errors, errors) of a file of named entries."""
    try:
        document = Document(path, root, collect_duplicates=True)
    except UnreadableFile as unreadable:
        return {}, {}, [unreadable.error]
    field, data = _entries_field(model), document.data
    duplicates: dict[str, list[DefinitionError]] = {}
    for loc, error in document.duplicates or []:
        entry = str(loc[1]) if len(loc) > 1 and loc[0] == field else None
        duplicates.setdefault(entry, []).append(error)
    if None in duplicates:  # e.g. tables: twice: no entry can be trusted
        return {}, {}, duplicates[None]
    if not isinstance(data, dict) or not isinstance(data.get(field), dict):
        return {}, {}, _validate(document, model, data)[1]
    errors = _validate(document, model, {**data, field: {}})[1]  # the file's own keys
    entries: dict[str, Any] = {}
    broken: dict[str, Any] = {}
    for name, raw in data[field].items():
        # a duplicate key first: the data holds YAML's guess (the last), not what was meant
        parsed, problems = None, duplicates.get(str(name), [])
        if not problems:
            parsed, problems = _validate(document, model, {field: {name: raw}})
        if problems:
            broken[str(name)] = raw
            errors += problems
        else:
            entries.update(getattr(parsed[0], field))
    return entries, broken, errors


def _parse(path: Path, model: type[Model], root: Path) -> tuple[Any, list[DefinitionError]]:
    """Read and validate one file; on failure the errors say where and why."""
    try:
        document = Document(path, root)
    except UnreadableFile as unreadable:
        return None, [unreadable.error]
    return _validate(document, model, document.data)


def _validate(document: Document, model: type[Model], data: Any) -> tuple[Any, list]:
    if not isinstance(data, dict):
        return None, [document.error((), "must be a YAML mapping of fields (key: value)")]
    try:
        return (model.model_validate(data), document), []
    except ValidationError as error:
        items = error.errors()
        shown = items[: MAX_ERRORS + 1]  # a file of 90,000 bad keys must not take minutes
        errors = [pydantic_error(document.name, document.node, i, _vocabulary()) for i in shown]
        partial = _partial(model, data, items)
        return ((partial, document) if partial else None), _capped(errors, len(items))


def _capped(errors: list[DefinitionError], total: int) -> list[DefinitionError]:
    """At most MAX_ERRORS + 1 errors, the last saying how many more there are."""
    if total <= MAX_ERRORS + 1:
        return errors
    errors = errors[: MAX_ERRORS + 1]
    more = f"and {total - len(errors)} more problems after this one"
    last = errors.pop()
    return [*errors, dataclasses.replace(last, hint="; ".join(filter(None, [last.hint, more])))]


def _partial(model: type[Model], data: dict, items: list) -> Model | None:
    """The spec without its failed top-level fields, when each is unknown or has a default.

    Cross-file checks then run on the rest, so a user sees every problem at once rather
    than the references only after the schema errors are fixed.
    """
    failed = {item["loc"][0] if item["loc"] else None for item in items}
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    if None in failed or any(key in fields and fields[key].is_required() for key in failed):
        return None
    try:
        return model.model_validate({k: v for k, v in data.items() if k not in failed})
    except ValidationError:
        return None


def _load_folder(
    project: Project,
    folder: str,
    model: type[Model],
    into: dict[str, Model],
    problems_of: Callable[[Model, Project], list[Problem]],
) -> None:
    for path in definition_files(project.root / folder):
        try:
            parsed, errors = _parse(path, model, project.root)
            if parsed:
                spec, document = parsed
                errors += _cross_check(spec, document, project, into, problems_of, errors)
        except Exception as error:  # a bug in a check must not hide the other files
            errors = [_internal_error(path, project.root, error)]
        if errors:
            _mark_broken(project, path, errors)
        else:
            into[spec.id] = spec
            project.files[f"{folder}:{spec.id}"] = path


def _cross_check(spec, document: Document, project, into: dict, problems_of, schema: list) -> list:
    problems = problems_of(spec, project)
    if spec.id in into:
        first = display_name(project.files[f"{_folder_of(spec)}:{spec.id}"], project.root)
        problems.insert(0, (("id",), f"id '{spec.id}' is already used by {first}", "rename one"))
    if schema:  # checked on a partial spec: skip what the failed fields would decide
        failed = {error.field.split(".")[0].split("[")[0] for error in schema}
        if failed & {"fields", "pii"}:
            failed.add("expectations")  # output names come from fields and pii
        problems = [problem for problem in problems if (problem[0] or ("",))[0] not in failed]
    return [document.error(loc, problem, hint) for loc, problem, hint in problems]


def _internal_error(path: Path, root: Path, error: Exception) -> DefinitionError:
    problem = f"Ferry could not check this file ({type(error).__name__}: {shorten(str(error))})"
    return DefinitionError(display_name(path, root), problem, hint="please report it to Ferry")


def _folder_of(spec: BaseModel) -> str:
    return {ExportSpec: "exports", SegmentSpec: "segments", GroupSpec: "groups"}[type(spec)]


def _mark_broken(project: Project, path: Path, errors: list) -> None:
    project.mark_broken(path, errors)


# Cross-file checks: each returns (loc, problem, hint) for the document that has the problem.


def _segment_problems(segment: SegmentSpec, project: Project) -> list[Problem]:
    try:
        table = project.table_for_segment_type(segment.type)
    except KeyError as error:
        broken = project.broken_entries.get("tables", {})
        for name, raw in broken.items():
            if isinstance(raw, dict) and raw.get("segment_type") == segment.type:
                return [(("type",), _has_errors("table", name), _FIX_FIRST)]
        return [(("type",), str(error.args[0]), "")]
    columns = project.tables[table].columns
    return list(_rule_problems(segment.rules, ("rules",), columns, table))


def _rule_problems(rule, loc: tuple, columns: dict, table: str):
    if isinstance(rule, models.Condition):
        yield from _condition_problems(rule, loc, columns, table)
        return
    key, children = _rule_children(rule)
    for index, child in enumerate(children):
        child_loc = loc + (key, index) if key != "not" else loc + (key,)
        yield from _rule_problems(child, child_loc, columns, table)


def _condition_problems(condition: models.Condition, loc: tuple, columns: dict, table: str):
    yield from _column_problems([condition.field], loc + ("field",), columns, table)
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


def _column_problems(names: list[str], loc: tuple, columns: dict, table: str):
    for name in names:
        if name not in columns:
            yield loc, f"table '{table}' has no column '{name}'", did_you_mean(name, columns)


def _export_problems(export: ExportSpec, project: Project) -> list[Problem]:
    problems = _source_problems(export, project)
    if problems:
        return problems
    table = project.table_of(export)
    columns = project.tables[table].columns
    problems += _field_problems(export, columns, table)
    problems += _destination_problems(export)
    problems += _expectation_problems(export, columns)
    return problems


_FIX_FIRST = "fix it first"


def _has_errors(kind: str, name: str) -> str:
    return f"{kind} '{name}' has errors of its own"


def _source_problems(export: ExportSpec, project: Project) -> list[Problem]:
    source = export.source
    if isinstance(source, models.TableSource):
        return _reference_problems(project, "table", source.table, ("source", "table"))
    problems = _reference_problems(project, "segment", source.segment, ("source", "segment"))
    problems = problems or _reference_problems(project, "target", export.target, ("target",))
    if problems:
        return problems
    if export.contacts_of_accounts:
        if project.segments[source.segment].type != "account":
            return [(("contacts_of_accounts",), "only an account segment has contacts", "")]
        return _reference_problems(project, "table", "contact", ("contacts_of_accounts",))
    return []


def _reference_problems(project: Project, kind: str, name: Any, loc: tuple) -> list[Problem]:
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
            problems += _column_problems([name], loc, columns, table)
            derived = not isinstance(choice, str) and choice.derive
            if name in columns and columns[name].pii and name not in export.pii and not derived:
                hint = f"add pii: {{{name}: keep}} (or hash, mask, tokenize, exclude)"
                problems.append(
                    (loc, f"'{name}' is PII and the export does not say how to send it", hint)
                )
    filters = export.filters
    if filters.window:
        problems += _column_problems(
            [filters.window.column], ("filters", "window", "column"), columns, table
        )
        problems += _time_column_problems(
            filters.window.column, ("filters", "window", "column"), columns
        )
    if filters.date_column:
        problems += _column_problems(
            [filters.date_column], ("filters", "date_column"), columns, table
        )
        problems += _time_column_problems(filters.date_column, ("filters", "date_column"), columns)
    for index, condition in enumerate(filters.where):
        problems += _condition_problems(condition, ("filters", "where", index), columns, table)
    for name in export.pii:
        problems += _column_problems([name], ("pii", name), columns, table)
    return problems


def _time_column_problems(name: str, loc: tuple, columns: dict) -> list[Problem]:
    problem = name in columns and time_column_problem(columns[name].type)
    return [(loc, f"'{name}' {problem}", "")] if problem else []


def _output_names(export: ExportSpec, columns: dict) -> list[str]:
    """The columns the files will have: renamed, and without PII nobody decided on."""
    if export.fields != "all":
        return [c if isinstance(c, str) else c.output_name for c in export.fields]
    decided = {name for name, rule in export.pii.items() if rule != "exclude"}
    return [name for name, column in columns.items() if not column.pii or name in decided]


def _expectation_problems(export: ExportSpec, columns: dict) -> list[Problem]:
    names = _output_names(export, columns)
    problems = [
        (("expectations", index, "field"), f"the files have no column '{item.field}'",
         did_you_mean(item.field, names))
        for index, item in enumerate(export.expectations)
        if item.field and item.field not in names
    ]  # fmt: skip
    for index, item in enumerate(export.expectations):
        if item.expect == "regex" and item.pattern is not None:
            problems += _python_regex_problems(item.pattern, ("expectations", index, "pattern"))
    return problems


def _python_regex_problems(pattern: str, loc: tuple) -> list[Problem]:
    """Expectations run in pandas, with Python's re: a bad pattern would fail the run."""
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as error:
        return [(loc, f"not a valid regular expression: {error}", "")]
    return []


def _destination_problems(export: ExportSpec) -> list[Problem]:
    from ferry.spec.templates import path_template_problems

    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, destination in enumerate(export.destinations):
        task_name = destination.name or destination.type
        if task_name in seen:
            hint = f"give each a distinct name, e.g. name: {destination.type}_{index + 1}"
            problems.append((("destinations", index), f"a second {task_name} destination", hint))
        seen[task_name] = index
        path = getattr(destination, "path", None)
        if path is not None:
            absolute = destination.type == "sftp"
            for problem in path_template_problems(path, absolute=absolute):
                problems.append((("destinations", index, "path"), f"path {problem}", ""))
    return problems


def _group_problems(group: GroupSpec, project: Project) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, member in enumerate(group.members):
        loc = ("members", index, "export")
        if member.export in seen:
            problems.append((loc, f"export '{member.export}' is listed twice", "list each once"))
        elif f"exports.{member.export}" in project.broken:
            problems.append(
                (loc, f"export '{member.export}' has errors of its own", "fix it first")
            )
        elif member.export not in project.exports:
            hint = did_you_mean(member.export, project.exports)
            problems.append((loc, f"unknown export '{member.export}'", hint))
        seen.add(member.export)
    return problems


def _check_dependencies(project: Project) -> None:
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
    _mark_broken(project, path, [Document(path, project.root).error(loc, problem, hint)])


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
