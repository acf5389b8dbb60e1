"""What a template Ferry renders may contain: its syntax tree, checked when it loads.

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
operators, other calls, unknown names) is a definition error naming the field. In a path,
replace's new text may not hold '/', '\\' or '.', so no run's value can be turned into a
folder or a '..'. Rendering (ferry.spec.templates) checks the template again.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ferry.safe_names import segment_problem
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


@functools.cache
def sandbox() -> jinja2.Environment:
    return ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


def placeholders_of(template: str) -> set[str]:
    """The variable names a template uses; raises jinja2.TemplateSyntaxError."""
    return jinja2.meta.find_undeclared_variables(sandbox().parse(template))


@functools.lru_cache(maxsize=1024)
def template_problems(template: str, allowed: frozenset[str] = PLACEHOLDERS) -> tuple[str, ...]:
    """Why a template is not allowed (see the module's rules); empty when it is fine."""
    try:
        tree = sandbox().parse(template)
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


def replace_problems(template: str) -> list[str]:
    """replace's new text is put into a path: it must not make a folder or a '..' there."""
    problems = []
    for node in sandbox().parse(template).find_all(nodes.Filter):
        if node.name == "replace" and _strings(node.args) and len(node.args) == 2:
            new = node.args[1].value
            if any(char in new for char in "/\\.") or segment_problem(new or "x") is not None:
                problems.append(
                    f"replace(..., {new!r}) in a path may not insert '/', '\\\\', '.' or a "
                    "control character: it could add a folder or make a '..'"
                )
    return problems


def is_folder(template: str) -> bool:
    """A path without a per-file placeholder names a folder the staged files go into."""
    return template.endswith("/") or not (placeholders_of(template) & PER_FILE)
