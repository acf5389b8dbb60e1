"""Load include/ into a Project: every definition that is valid, and an error for each that is not.

A broken file never stops the others from loading; each error names the file, the line,
the field and the fix.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ferry.spec import connections, models
from ferry.spec.errors import DefinitionError, pydantic_error, shorten
from ferry.spec.import_rules import import_problems
from ferry.spec.models import (
    ExportSpec,
    GroupSpec,
    ImportSpec,
    SegmentSpec,
    TablesFile,
    TargetsFile,
)
from ferry.spec.project import Project  # also imported from here by plan, render, CLI
from ferry.spec.reader import Document, UnreadableFile, definition_files, display_name
from ferry.spec.reader import broken_key as broken_key  # re-exported: the CLI names DAGs by it
from ferry.spec.references import (
    Problem,
    check_dependencies,
    export_problems,
    group_problems,
    segment_problems,
    segment_type_problems,
)

Model = TypeVar("Model", bound=BaseModel)
MAX_ERRORS = 50  # per file; the last one shown says how many more there are


@functools.cache
def _vocabulary() -> frozenset[str]:
    """Every field name of every model, for 'did you mean' on unknown keys."""
    names: set[str] = set()
    for model in [*vars(models).values(), connections.ConnectionSharing]:
        if isinstance(model, type) and issubclass(model, models.Spec):
            names.update(info.alias or name for name, info in model.model_fields.items())
    return frozenset(names)


def load_project(root: Path) -> Project:
    """Load tables, targets, connections, segments, exports, imports and groups under root."""
    project = Project(root=root)
    project.tables = _load_mapping_file(project, root / "warehouse" / "tables.yaml", TablesFile)
    project.targets = _load_mapping_file(project, root / "targets.yaml", TargetsFile)
    sharing = root / connections.FILE_NAME
    project.connections = _load_mapping_file(project, sharing, connections.ConnectionsFile)
    connections.close_if_unloaded(project, sharing)
    _load_folder(project, "segments", SegmentSpec, project.segments, segment_problems)
    _load_folder(project, "exports", ExportSpec, project.exports, _export_problems)
    check_dependencies(project)
    _load_folder(project, "imports", ImportSpec, project.imports, import_problems)
    _load_folder(project, "groups", GroupSpec, project.groups, group_problems)
    return project


def _export_problems(export: ExportSpec, project: Project) -> list[Problem]:
    return export_problems(export, project) + connections.sharing_problems(export, project)


def _load_mapping_file(project: Project, path: Path, model: type[Model]) -> dict:
    """tables.yaml, targets.yaml or connections.yaml: each entry checked on its own, so a
    broken entry refuses only what uses it; a problem of the file itself refuses every entry."""
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
    if model is TablesFile:
        for name, (loc, problem, hint) in segment_type_problems(entries).items():
            broken[name] = data[field].get(name)
            del entries[name]
            errors.append(document.error(loc, problem, hint))
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
    folders = {ExportSpec: "exports", ImportSpec: "imports", SegmentSpec: "segments"}
    return folders.get(type(spec), "groups")


def _mark_broken(project: Project, path: Path, errors: list) -> None:
    project.mark_broken(path, errors)
