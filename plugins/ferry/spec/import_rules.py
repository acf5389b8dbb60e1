"""Load-time checks of an import (include/imports/<id>.yaml) against the project: its
table, the columns it loads, its merge key and an id no export has.

Each problem is (loc, problem, hint) for the import's own file, as ferry.spec.references.
"""

from __future__ import annotations

from ferry.spec.errors import did_you_mean
from ferry.spec.imports import ImportSpec
from ferry.spec.project import Project
from ferry.spec.re2 import re2_problem
from ferry.spec.references import Problem, column_problems, reference_problems


def import_problems(spec: ImportSpec, project: Project) -> list[Problem]:
    """The import's table, its columns and key; and an id no export has (a group member, a
    run record and `ferry run` name a job by its id alone)."""
    problems: list[Problem] = []
    if spec.id in project.exports or f"exports.{spec.id}" in project.broken:
        problem = f"id '{spec.id}' is already the id of an export"
        problems.append((("id",), problem, "rename the import (or the export)"))
    table_problems = reference_problems(project, "table", spec.table, ("table",))
    if table_problems:
        return problems + table_problems
    table = project.tables[spec.table]
    problems += _importcolumn_problems(spec, table.columns)
    if spec.mode == "merge":
        key = spec.key or table.key
        loc = ("key",) if spec.key else ("mode",)
        problems += column_problems([key], loc, table.columns, spec.table)
        loaded = [to for _, to in spec.column_pairs(list(table.columns))]
        if key in table.columns and key not in loaded:
            hint = f"add {key} to columns, or load by append or overwrite"
            problems.append((loc, f"merge matches rows on '{key}', which is not loaded", hint))
    return problems


def _importcolumn_problems(spec: ImportSpec, columns: dict) -> list[Problem]:
    problems: list[Problem] = []
    if spec.columns != "all":
        targets: set[str] = set()
        for index, item in enumerate(spec.columns):
            to = item if isinstance(item, str) else item.to
            loc = ("columns", index) if isinstance(item, str) else ("columns", index, "to")
            problems += column_problems([to], loc, columns, spec.table)
            if to in targets:
                problems.append((loc, f"column '{to}' is loaded twice", "map each column once"))
            targets.add(to)
    loaded = {to for _, to in spec.column_pairs(list(columns))}
    for index, item in enumerate(spec.expectations):
        if item.field and item.field not in loaded:
            loc = ("expectations", index, "field")
            hint = did_you_mean(item.field, sorted(loaded))
            problems.append((loc, f"the import loads no column '{item.field}'", hint))
        if item.expect == "regex" and item.pattern is not None:
            problems += _re2_problems(item.pattern, ("expectations", index, "pattern"))
    return problems


def _re2_problems(pattern: str, loc: tuple) -> list[Problem]:
    """An import's expectations run in DuckDB (ferry.imports.expect), whose regexp_matches
    is RE2: what RE2 refuses is refused here, not found failing at load time."""
    problem = re2_problem(str(pattern))
    return [(loc, problem, "")] if problem else []
