"""Shared by the spec tests: a good export to extend, and the errors a copy of include/ has."""

from __future__ import annotations

import textwrap
from pathlib import Path

from ferry.spec.loader import load_project

ROOT = Path(__file__).resolve().parents[3]
GOOD_EXPORT = """\
id: {id}
name: Good
source: {{table: lead}}
fields: [lead_id, state]
destinations: [{{type: download}}]
"""


def write(include: Path, relative: str, text: str) -> Path:
    path = include / relative
    path.write_text(textwrap.dedent(text))
    return path


def errors_of(include: Path) -> list[str]:
    return [str(error) for error in load_project(include).errors]
