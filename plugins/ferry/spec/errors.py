"""Definition errors that name the file, the line, the field and the fix."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class DefinitionError:
    """One problem in one definition file."""

    file: str
    problem: str
    field: str = ""
    line: int | None = None
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        parts = [where, self.field, self.problem + (f"; {self.hint}" if self.hint else "")]
        return " -> ".join(part for part in parts if part)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A 'did you mean' hint naming the closest choice, or the choices when none is close."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if 0 < len(choices) <= 12:
        return "choose one of: " + ", ".join(choices)
    return ""


def format_loc(loc: Iterable[Any]) -> str:
    """('destinations', 0, 'bucket') -> 'destinations[0].bucket'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def document_path(node: yaml.Node | None, loc: tuple) -> tuple[tuple, int | None]:
    """The part of a pydantic loc that exists in the YAML document, and its 1-based line.

    pydantic puts union tags ('s3', 'condition') in locs; they are not in the document and
    are dropped, except for the last part, which names a missing field.
    """
    if node is None:
        return loc, None
    kept, line = [], node.start_mark.line + 1
    for index, part in enumerate(loc):
        child = _child(node, part)
        if child is not None:
            node, line = child, child.start_mark.line + 1
            kept.append(part)
        elif index == len(loc) - 1:
            kept.append(part)
    return tuple(kept), line


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None


def pydantic_error(file: str, node: yaml.Node | None, error: dict, vocabulary: set[str]):
    """Turn one pydantic error into a DefinitionError with a line and a fix."""
    loc, line = document_path(node, tuple(error["loc"]))
    kind, field = error["type"], format_loc(loc)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return DefinitionError(
            file, f"unknown field '{key}'", field, line, did_you_mean(key, vocabulary)
        )
    if kind == "missing":
        return DefinitionError(file, "required field is missing", field, line)
    problem, hint = _problem_and_hint(error, error.get("ctx", {}))
    return DefinitionError(file, problem, field, line, hint)


def _problem_and_hint(error: dict, ctx: dict) -> tuple[str, str]:
    kind, value = error["type"], error.get("input")
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        return f"{value!r} is not allowed", did_you_mean(value, choices)
    if kind == "union_tag_invalid":
        choices = re.findall(r"'([^']*)'", ctx.get("expected_tags", ""))
        return f"type {value!r} is not known", did_you_mean(value, choices)
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not a valid id", "use lowercase letters, digits and _ (a-z first)"
    message = error["msg"].removeprefix("Value error, ")
    return message[0].lower() + message[1:], ""
