"""Destination path templates: which placeholders they may use and where they may point."""

from __future__ import annotations

import functools

import jinja2
import jinja2.meta

PLACEHOLDERS = frozenset(
    {
        "ds", "ds_nodash", "ts", "ts_nodash", "run_id", "logical_date",
        "data_interval_start", "data_interval_end", "macros",
        "part", "file", "ext", "export_id", "export_name",
    }
)  # fmt: skip
# Placeholders whose value differs per staged file; a path without one is a folder.
PER_FILE = frozenset({"part", "file"})


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)


def placeholders_of(template: str) -> set[str]:
    """The variable names a template uses; raises jinja2.TemplateSyntaxError."""
    return jinja2.meta.find_undeclared_variables(_environment().parse(template))


def path_template_problems(template: str, *, absolute: bool) -> list[str]:
    """Why a destination path template is unsafe or unknown; empty when it is fine.

    A template must stay inside the destination: no '..', no empty segments, and (where
    the destination is relative, as S3 keys are) no leading '/'.
    """
    try:
        names = placeholders_of(template)
    except jinja2.TemplateSyntaxError as error:
        return [f"template syntax error: {error.message}"]
    problems = [f"unknown placeholder '{name}'" for name in sorted(names - PLACEHOLDERS)]
    segments = template.strip().split("/")
    if any(segment.strip() in ("..", ".") for segment in segments):
        problems.append("'..' or '.' segments could leave the destination folder")
    if "" in segments[1:-1]:
        problems.append("empty path segment ('//')")
    if template.startswith("/") and not absolute:
        problems.append("must be relative (no leading '/')")
    if not template.strip():
        problems.append("is empty")
    return problems


def is_folder(template: str) -> bool:
    """A path without a per-file placeholder names a folder the staged files go into."""
    return template.endswith("/") or not (placeholders_of(template) & PER_FILE)


def render_path(template: str, context: dict) -> str:
    """Render a path template; values come from Airflow's context and the staged file."""
    return _environment().from_string(template).render(**context)
