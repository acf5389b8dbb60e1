"""Definition errors that name the file, the line, the field and the fix."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from ferry.exceptions import Terminal


@dataclass(frozen=True)
class DefinitionError:
    """One problem in one definition file."""

    file: str
    problem: str
    field: str = ""
    line: int | None = None
    hint: str = ""

    def __post_init__(self) -> None:
        # a last guard: no message carries a huge value from a hostile file
        for name, limit in (("file", 300), ("problem", 500), ("field", 200), ("hint", 300)):
            object.__setattr__(self, name, shorten(getattr(self, name), limit, quote=False))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        parts = [where, self.field, self.problem + (f"; {self.hint}" if self.hint else "")]
        return " -> ".join(part for part in parts if part)


class FieldError(ValueError, Terminal):
    """A model validator's problem with one named field, so the error can point at it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def shorten(value: Any, limit: int = 60, *, quote: bool = True) -> str:
    """A value for a message: repr'd (or as is), cut to about `limit` characters."""
    if quote and not isinstance(value, str | int | float | bool | None):
        return f"a {type(value).__name__}"  # never repr a list or mapping a file made huge
    text = repr(value) if quote else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


MAX_GUESS = 100  # difflib is quadratic: no guessing on longer words


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A 'did you mean' hint naming the closest choice, or the choices when none is close."""
    choices = sorted(str(choice) for choice in set(choices) if len(str(choice)) <= MAX_GUESS)
    word = word if isinstance(word, str) else str(word) if isinstance(word, int | float) else ""
    close = []
    if 0 < len(word) <= MAX_GUESS:
        close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
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
    cause = error.get("ctx", {}).get("error")
    named = (cause.field,) if isinstance(cause, FieldError) else ()
    loc, line = document_path(node, (*error["loc"], *named))
    kind, field = error["type"], format_loc(loc)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        hint = "it does not belong here" if key in vocabulary else did_you_mean(key, vocabulary)
        return DefinitionError(file, f"unknown field {shorten(key)}", field, line, hint)
    if kind == "missing":
        return DefinitionError(file, "required field is missing", field, line)
    problem, hint = _problem_and_hint(error, error.get("ctx", {}))
    return DefinitionError(file, problem, field, line, hint)


def _problem_and_hint(error: dict, ctx: dict) -> tuple[str, str]:
    kind, value = error["type"], error.get("input")
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        return f"{shorten(value)} is not allowed", did_you_mean(value, choices)
    if kind == "union_tag_invalid":
        choices = re.findall(r"'([^']*)'", ctx.get("expected_tags", ""))
        return f"type {shorten(value)} is not known", did_you_mean(value, choices)
    if kind == "string_pattern_mismatch":
        return (
            f"{shorten(value)} is not a valid id",
            "use lowercase letters, digits and _ (a-z first)",
        )
    message = error["msg"].removeprefix("Value error, ")
    return message[0].lower() + message[1:], ""
