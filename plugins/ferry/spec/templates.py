"""Every template Ferry renders: what it may contain, checked at load, and how it renders.

Destination paths (s3, sftp) and email subjects, bodies and recipients are Jinja
templates written by many people, so they are data, never code. When a definition loads,
each template is parsed and its syntax tree walked; only these are allowed:

- text, and string constants ('...');
- the placeholders: ds, ds_nodash, ts, ts_nodash, run_id, logical_date,
  data_interval_start, data_interval_end, export_id, export_name, and in paths also part,
  file and ext (per staged file);
- date formats: logical_date.strftime('%Y/%m') (also on data_interval_start and
  data_interval_end), macros.ds_add(ds, -1) and macros.ds_format(ds, '%Y-%m-%d', '%Y/%m');
  `macros` is Ferry's, with these two helpers only, not Airflow's macros module;
- the filters lower, upper, trim and replace('old', 'new'), with constant arguments.

Anything else ({% for %}, {% if %}, attribute access such as ''.__class__, subscripts,
operators, other calls, unknown names) is a definition error naming the field. Rendering
uses Jinja's ImmutableSandboxedEnvironment with StrictUndefined and checks the template
again, as defence in depth. Values from a run are hostile too: a placeholder substituted
into a path must be one plain segment (no '/', '\\', control character, '.' or '..'), and
the rendered path is checked again (ferry.delivery.base).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator
from typing import Any

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ferry.exceptions import Terminal
from ferry.spec.errors import did_you_mean

RUN_PLACEHOLDERS = frozenset(
    {
        "ds", "ds_nodash", "ts", "ts_nodash", "run_id", "logical_date",
        "data_interval_start", "data_interval_end", "export_id", "export_name",
    }
)  # fmt: skip
# Placeholders whose value differs per staged file; a path without one is a folder.
PER_FILE = frozenset({"part", "file"})
PLACEHOLDERS = RUN_PLACEHOLDERS | PER_FILE | {"ext"}
DATES = frozenset({"logical_date", "data_interval_start", "data_interval_end"})
FILTERS = {"lower": 0, "upper": 0, "trim": 0, "replace": 2}  # name -> constant arguments
MACROS = "macros"
_NOT_IN_ADDRESS = r"@\s<>(),;:\"\[\]\\\x00-\x1f\x7f"
_ADDRESS = re.compile(f"[^{_NOT_IN_ADDRESS}]+@[^{_NOT_IN_ADDRESS}]+")
_SAMPLE_MOMENT = dt.datetime(2026, 1, 31, tzinfo=dt.UTC)
SAMPLE_VALUES = {
    "ds": "2026-01-31", "ds_nodash": "20260131", "ts": _SAMPLE_MOMENT.isoformat(),
    "ts_nodash": "20260131T000000", "run_id": "manual__2026-01-31T00:00:00+00:00",
    "logical_date": _SAMPLE_MOMENT, "data_interval_start": _SAMPLE_MOMENT,
    "data_interval_end": _SAMPLE_MOMENT + dt.timedelta(days=1), "export_id": "export",
    "export_name": "Export", "part": "00001", "file": "export_00001.csv", "ext": "csv",
}  # fmt: skip


class TemplateValueError(ValueError, Terminal):
    """A run's value cannot be substituted where the template puts it (e.g. '/' in a path)."""


class FerryMacros:
    """The only macros a template may call: Airflow's ds_add and ds_format, re-done here."""

    @staticmethod
    def ds_add(ds: str, days: int) -> str:
        """ds moved by days: macros.ds_add('2026-01-31', -1) is '2026-01-30'."""
        return (dt.date.fromisoformat(str(ds)) + dt.timedelta(days=int(days))).isoformat()

    @staticmethod
    def ds_format(ds: str, input_format: str, output_format: str) -> str:
        """ds re-formatted: macros.ds_format(ds, '%Y-%m-%d', '%Y/%m')."""
        return dt.datetime.strptime(str(ds), input_format).strftime(output_format)


@functools.cache
def _environment() -> jinja2.Environment:
    return ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


def placeholders_of(template: str) -> set[str]:
    """The variable names a template uses; raises jinja2.TemplateSyntaxError."""
    return jinja2.meta.find_undeclared_variables(_environment().parse(template))


@functools.lru_cache(maxsize=1024)
def template_problems(template: str, allowed: frozenset[str] = PLACEHOLDERS) -> tuple[str, ...]:
    """Why a template is not allowed (see the module's rules); empty when it is fine."""
    try:
        tree = _environment().parse(template)
    except jinja2.TemplateSyntaxError as error:
        return (f"template syntax error: {error.message}",)
    problems = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            problems.append(_statement(node))
            continue
        for child in node.nodes:
            if not isinstance(child, nodes.TemplateData):
                problems += _expression_problems(child, allowed)
    return tuple(dict.fromkeys(problems))


def _statement(node: nodes.Node) -> str:
    return f"'{{% {type(node).__name__.lower()} %}}' blocks are not allowed, only placeholders"


def _expression_problems(node: nodes.Node, allowed: frozenset[str]) -> Iterator[str]:
    """Problems of one {{ ... }}: a placeholder, a string, a date format or a filter chain."""
    if isinstance(node, nodes.Name):
        if node.name not in allowed:
            yield _unknown(node.name, allowed)
    elif isinstance(node, nodes.Const):
        if not isinstance(node.value, str):
            yield f"the constant {node.value!r} is not allowed; quote it: '{node.value}'"
    elif isinstance(node, nodes.Filter):
        yield from _filter_problems(node, allowed)
    elif isinstance(node, nodes.Call):
        yield from _call_problems(node, allowed)
    elif isinstance(node, nodes.Getattr):
        yield f"attribute access '.{node.attr}' is not allowed"
    elif isinstance(node, nodes.Getitem):
        yield "subscripts ('[...]') are not allowed"
    else:
        yield f"the expression {type(node).__name__} is not allowed, only placeholders"


def _unknown(name: str, allowed: frozenset[str]) -> str:
    hint = did_you_mean(name, allowed)
    if name in PLACEHOLDERS:
        return f"placeholder '{name}' is only for file paths, not here"
    return f"unknown placeholder '{name}'" + (f"; {hint}" if hint else "")


def _filter_problems(node: nodes.Filter, allowed: frozenset[str]) -> Iterator[str]:
    if node.name not in FILTERS:
        yield f"filter '{node.name}' is not allowed; use one of: {', '.join(FILTERS)}"
    elif _dynamic(node) or len(node.args) != FILTERS[node.name] or not _strings(node.args):
        yield f"filter '{node.name}' takes {FILTERS[node.name]} quoted string argument(s)"
    if node.node is not None:
        yield from _expression_problems(node.node, allowed)


def _call_problems(node: nodes.Call, allowed: frozenset[str]) -> Iterator[str]:
    target = node.node
    name = target.node.name if isinstance(target, nodes.Getattr) and isinstance(
        target.node, nodes.Name
    ) else None  # fmt: skip
    if name in DATES and name in allowed and target.attr == "strftime":
        if _dynamic(node) or len(node.args) != 1 or not _strings(node.args):
            yield f"{name}.strftime takes one quoted format, e.g. {name}.strftime('%Y/%m')"
    elif name == MACROS and target.attr == "ds_add":
        first, *rest = node.args or [None]
        if _dynamic(node) or len(rest) != 1 or not _whole_number(rest[0]):
            yield "macros.ds_add takes a date and a whole number of days: macros.ds_add(ds, -1)"
        elif first is not None:
            yield from _expression_problems(first, allowed)
    elif name == MACROS and target.attr == "ds_format":
        first, *rest = node.args or [None]
        if _dynamic(node) or len(rest) != 2 or not _strings(rest):
            yield "macros.ds_format takes a date and two quoted formats"
        elif first is not None:
            yield from _expression_problems(first, allowed)
    else:
        yield (
            "calls are not allowed except <date>.strftime('...'), macros.ds_add and "
            "macros.ds_format"
        )


def _dynamic(node: nodes.Call | nodes.Filter) -> bool:
    return bool(node.kwargs or node.dyn_args or node.dyn_kwargs)


def _strings(args: list[nodes.Expr]) -> bool:
    return all(isinstance(arg, nodes.Const) and isinstance(arg.value, str) for arg in args)


def _whole_number(node: nodes.Expr) -> bool:
    if isinstance(node, (nodes.Neg, nodes.Pos)):
        node = node.node
    return isinstance(node, nodes.Const) and type(node.value) is int and abs(node.value) < 10**5


def render(template: str, values: dict[str, Any], *, allowed: frozenset[str] = PLACEHOLDERS):
    """Render a checked template in the sandbox with only the allowed values.

    Raises:
        ValueError: The template is not allowed (it was never checked at load).
        jinja2.TemplateError: A placeholder has no value in this run (StrictUndefined).
    """
    problems = template_problems(template, allowed)
    if problems:
        raise ValueError(f"template {template!r} is not allowed: {'; '.join(problems)}")
    given = {name: value for name, value in values.items() if name in allowed}
    return _compiled(template).render(**given, macros=FerryMacros())


@functools.lru_cache(maxsize=1024)
def _compiled(template: str) -> jinja2.Template:
    return _environment().from_string(template)


def render_path(template: str, values: dict[str, Any]) -> str:
    """Render a path template; each substituted value must be one plain path segment.

    Raises:
        TemplateValueError: A value the template uses would add or leave a folder; the
            message names the placeholder and the value.
    """
    for name in sorted(placeholders_of(template) & PLACEHOLDERS):
        problem = segment_problem(values.get(name))
        if problem:
            raise TemplateValueError(
                f"placeholder '{name}' has the value {values[name]!r}, which {problem}"
            )
    return render(template, values)


def segment_problem(value: Any) -> str | None:
    """Why a value cannot be one path segment; None when it can (or is not text)."""
    if not isinstance(value, str):
        return None
    if value in (".", ".."):
        return "would move up or stay in the folder"
    if "/" in value or "\\" in value:
        return "would add a folder (it holds '/' or '\\')"
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return "holds a control character"
    return None


def rendered_path_problem(path: str, *, absolute: bool) -> str | None:
    """Why a rendered path could leave the destination; None when it stays inside."""
    segments = path.split("/")
    if not path.strip():
        return "is empty"
    if any(segment.strip() in ("..", ".") for segment in segments):
        return "has '..' or '.' segments that could leave the destination folder"
    if "" in segments[1:-1]:
        return "has an empty path segment ('//')"
    if path.startswith("/") and not absolute:
        return "must be relative (no leading '/')"
    if any(ord(char) < 32 or ord(char) == 127 for char in path):
        return "holds a control character"
    return None


def path_template_problems(template: str, *, absolute: bool) -> list[str]:
    """Why a destination path template is not allowed or unsafe; empty when it is fine.

    The template must pass template_problems, render with sample values, and the sample
    path must stay inside the destination: no '..' or '.' segment, no empty segment and
    (where the destination is relative, as S3 keys are) no leading '/'.
    """
    problems = list(template_problems(template, PLACEHOLDERS))
    if problems:
        return problems
    if "ext" in placeholders_of(template) and is_folder(template):
        return ["uses {{ ext }} in a folder; ext is per file: use it with {{ part }} or {{ file }}"]
    try:
        sample = render(template, SAMPLE_VALUES)
    except Exception as error:  # any failure of a definition's own formats is its error
        return [f"cannot be rendered: {type(error).__name__}: {error}"]
    problem = rendered_path_problem(sample, absolute=absolute)
    return [f"{problem} (rendered as {sample!r})"] if problem else []


def text_template_problems(template: str) -> list[str]:
    """Why an email subject, body or recipient template is not allowed; empty when fine."""
    problems = list(template_problems(template, RUN_PLACEHOLDERS))
    if problems:
        return problems
    try:
        render(template, SAMPLE_VALUES, allowed=RUN_PLACEHOLDERS)
    except Exception as error:
        return [f"cannot be rendered: {type(error).__name__}: {error}"]
    return []


def check_export_name(name: Any, paths: list[str | None]) -> None:
    """export_name goes into paths as one folder or file name part: it must fit there.

    Raises:
        ValueError: A path uses {{ export_name }} and the name would add or leave a folder.
    """
    problem = segment_problem(name)
    for index, path in enumerate(paths):
        if problem and path and "export_name" in placeholders_of(path):
            raise ValueError(
                f"destinations[{index}].path uses {{{{ export_name }}}}, and the name "
                f"{name!r} {problem}; use {{{{ export_id }}}} or change the name"
            )


def is_folder(template: str) -> bool:
    """A path without a per-file placeholder names a folder the staged files go into."""
    return template.endswith("/") or not (placeholders_of(template) & PER_FILE)


# pydantic validators: a ValueError here becomes "file:line -> field -> problem".


def relative_path(template: str) -> str:
    """An S3 key template: checked, and relative to the bucket."""
    return _checked_path(template, absolute=False)


def absolute_or_relative_path(template: str) -> str:
    """An SFTP path template: checked; it may start at '/'."""
    return _checked_path(template, absolute=True)


def _checked_path(template: str, *, absolute: bool) -> str:
    problems = path_template_problems(template, absolute=absolute)
    if problems:
        raise ValueError("path " + "; ".join(problems))
    return template


def text_template(template: str) -> str:
    """An email subject or body template."""
    problems = text_template_problems(template)
    if problems:
        raise ValueError("; ".join(problems))
    return template


def recipient_problem(address: str) -> str | None:
    """Why a rendered recipient is not one plain address (a@b); None when it is."""
    if _ADDRESS.fullmatch(address):
        return None
    return f"{address!r} is not an email address (name@domain, nothing else)"


def recipient_template(template: str) -> str:
    """An email recipient template: checked, and its sample rendering is addresses."""
    text_template(template)
    rendered = render(template, SAMPLE_VALUES, allowed=RUN_PLACEHOLDERS)
    for address in split_recipients(rendered) or [rendered]:
        problem = recipient_problem(address)
        if problem:
            raise ValueError(problem)
    return template


def split_recipients(text: str) -> list[str]:
    """One rendered recipient template may hold several addresses, by comma or semicolon."""
    return [address for address in re.split(r"\s*[,;]\s*", text.strip()) if address]


def endpoint(value: str) -> str:
    """A webhook endpoint: a literal path under the connection's URL, never a URL or a way up."""
    problem = None
    if "{{" in value or "{%" in value:
        problem = "is not a template; write the path under the connection's URL"
    elif "://" in value or value.startswith("//") or "@" in value:
        problem = "must be a path under the connection's URL, not a URL"
    elif any(segment in (".", "..") for segment in value.split("?")[0].split("/")):
        problem = "has a '.' or '..' segment"
    elif any(ord(char) <= 32 or ord(char) == 127 or char == "\\" for char in value):
        problem = "holds a space, control character or backslash"
    if problem:
        raise ValueError(f"endpoint {value!r} {problem}")
    return value
