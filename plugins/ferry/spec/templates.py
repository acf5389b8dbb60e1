"""Every template Ferry renders: how it renders, and the checks of paths and recipients.

What a template may contain is ferry.spec.template_rules' (checked at load); its names are
re-exported here. Rendering uses Jinja's ImmutableSandboxedEnvironment with
StrictUndefined and checks the template again, as defence in depth. Values from a run are
hostile too: a placeholder substituted into a path must be one plain segment, and the
rendered path is checked again (ferry.delivery.base); both rules are ferry.safe_names'.

A definition's own id and name are known at load: every path and recipient is also
rendered with them there. Each recipient template is one or more addresses split at the
',' and ';' of its literal text; each piece must render to exactly one address, so a
placeholder's value can never add a recipient.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

import jinja2

from ferry.exceptions import Terminal
from ferry.safe_names import path_problem, segment_problem
from ferry.spec.template_rules import (
    DATES,
    FILTERS,
    MACROS,
    PER_FILE,
    PLACEHOLDERS,
    RUN_PLACEHOLDERS,
    is_folder,
    placeholders_of,
    replace_problems,
    sandbox,
    template_problems,
)

__all__ = [
    "DATES", "FILTERS", "MACROS", "PER_FILE", "PLACEHOLDERS", "RUN_PLACEHOLDERS", "SAMPLE_VALUES",
    "FerryMacros", "TemplateValueError", "absolute_or_relative_path", "check_export_values",
    "endpoint", "is_folder", "path_template_problems", "placeholders_of", "recipient_pieces",
    "recipient_problem", "recipient_template", "recipients", "relative_path", "render",
    "render_path", "rendered_path_problems", "sandbox", "template_problems", "text_template",
    "text_template_problems",
]  # fmt: skip

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
    return sandbox().from_string(template)


def render_path(template: str, values: dict[str, Any]) -> str:
    """Render a path template; each substituted value must be one plain path segment.

    Raises:
        TemplateValueError: A value the template uses would add or leave a folder; the
            message names the placeholder and the value.
    """
    for name in sorted(placeholders_of(template) & PLACEHOLDERS):
        value = values.get(name)
        problem = segment_problem(value) if isinstance(value, str) and value else None
        if problem:
            raise TemplateValueError(
                f"placeholder '{name}' has the value {values[name]!r}, which {problem}"
            )
    return render(template, values)


def path_template_problems(template: str, *, absolute: bool) -> list[str]:
    """Why a destination path template is not allowed or unsafe; empty when it is fine.

    The template must pass template_problems, insert no separator or dot through
    replace, render with sample values, and the sample path must pass
    ferry.safe_names.path_problem.
    """
    problems = list(template_problems(template, PLACEHOLDERS)) or replace_problems(template)
    if problems:
        return problems
    if "ext" in placeholders_of(template) and is_folder(template):
        return ["uses {{ ext }} in a folder; ext is per file: use it with {{ part }} or {{ file }}"]
    return rendered_path_problems(template, SAMPLE_VALUES, absolute=absolute)


def rendered_path_problems(template: str, values: dict[str, Any], *, absolute: bool) -> list[str]:
    """Why a checked path template does not render, with values, to a path that stays inside."""
    try:
        rendered = render_path(template, values)
    except Exception as error:  # any failure of a definition's own formats is its error
        return [f"cannot be rendered: {type(error).__name__}: {error}"]
    problem = path_problem(rendered, absolute=absolute)
    return [f"{problem} (rendered as {rendered!r})"] if problem else []


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


def check_export_values(export_id: Any, name: Any, destinations: list) -> None:
    """Render each path and recipient with the export's real id and name: they must fit.

    Raises:
        ValueError: The name cannot be a path segment where a path uses it, a path with
            the real values would add or leave a folder, or a recipient would not be
            exactly one address.
    """
    if not isinstance(export_id, str) or not isinstance(name, str):
        return  # the id or name has its own error already
    values = {**SAMPLE_VALUES, "export_id": export_id, "export_name": name}
    for index, destination in enumerate(destinations):
        path = getattr(destination, "path", None)
        if path and not template_problems(path):
            _check_path_values(f"destinations[{index}].path", path, values, destination)
        for number, template in enumerate(getattr(destination, "to", None) or []):
            problem = _recipient_problems(template, values)
            if problem:
                raise ValueError(
                    f"destinations[{index}].to[{number}], rendered with this export's id and "
                    f"name, {problem}; use {{{{ export_id }}}} or change the name"
                )


def _check_path_values(field: str, path: str, values: dict[str, Any], destination: Any) -> None:
    name = values["export_name"]
    problem = segment_problem(name)
    if problem and "export_name" in placeholders_of(path):
        raise ValueError(
            f"{field} uses {{{{ export_name }}}}, and the name {name!r} {problem}; use "
            "{{ export_id }} or change the name"
        )
    absolute = getattr(destination, "type", None) != "s3"  # only S3 keys are relative
    for problem in rendered_path_problems(path, values, absolute=absolute):
        raise ValueError(f"{field}, rendered with this export's id and name, {problem}")


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


def recipient_pieces(template: str) -> list[str]:
    """The recipient templates in one entry of `to`, split at the ',' and ';' of its text.

    Only literal text is split: what a placeholder renders to is never split, so it
    cannot add an address.
    """
    pieces, current = [], ""
    for _, kind, value in sandbox().lex(template):
        if kind == "data":
            *complete, value = re.split(r"[,;]", value)
            for text in complete:
                pieces.append(current + text)
                current = ""
        current += value
    return [piece.strip() for piece in [*pieces, current] if piece.strip()]


def recipients(template: str, values: dict[str, Any]) -> list[str]:
    """The addresses one `to` entry renders to: each piece exactly one address.

    Raises:
        ValueError: A piece renders to something else than one address.
        jinja2.TemplateError: A placeholder has no value.
    """
    addresses = []
    for piece in recipient_pieces(template) or [template]:
        address = render(piece, values, allowed=RUN_PLACEHOLDERS).strip()
        problem = recipient_problem(address)
        if problem:
            raise ValueError(problem)
        addresses.append(address)
    return addresses


def _recipient_problems(template: str, values: dict[str, Any]) -> str | None:
    try:
        recipients(template, values)
    except Exception as error:
        return str(error)
    return None


def recipient_template(template: str) -> str:
    """An email recipient template: checked, and each piece renders to one address."""
    text_template(template)
    problem = _recipient_problems(template, SAMPLE_VALUES)
    if problem:
        raise ValueError(problem)
    return template


def endpoint(value: str) -> str:
    """A webhook endpoint: a literal path under the connection's URL, never a URL or a way up."""
    problem = None
    if "{{" in value or "{%" in value:
        problem = "is not a template; write the path under the connection's URL"
    elif "://" in value or value.startswith("//") or "@" in value:
        problem = "must be a path under the connection's URL, not a URL"
    elif any(ord(char) <= 32 or ord(char) == 127 or char == "\\" for char in value):
        problem = "holds a space, control character or backslash"
    elif value.split("?")[0].strip("/"):
        problem = path_problem(value.split("?")[0].strip("/"), absolute=False)
    if problem:
        raise ValueError(f"endpoint {value!r} {problem}")
    return value
