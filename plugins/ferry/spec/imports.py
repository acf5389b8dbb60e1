"""The model of an import job (include/imports/<id>.yaml): files loaded into a table.

    id: partner_leads
    name: Leads from the partner's SFTP
    source: {type: sftp, connection: partner_sftp, path: outbox,
             pattern: "leads_{{ ds_nodash }}*.csv.gz", files: all}
    format: {type: csv, compression: auto}
    table: lead                    # a table of tables.yaml, written on its connection
    mode: merge                    # merge (upsert on the key) | append | overwrite
    columns:                       # default: every table column, found by name in the file
      - lead_id
      - {field: "E-mail", to: email}
    rejects: {max_rate: 0.01, on_exceed: fail}
    wait: {timeout: 6h, poke_interval: 5m}

Cross-file checks (the table exists, mapped columns are its columns, merge has a key) are
the loader's; this module checks one file's shape only.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    model_validator,
)

from ferry.dag_ids import import_dag_id
from ferry.safe_names import path_problem, segment_problem
from ferry.spec.base import ConnectionId, Identifier, Spec
from ferry.spec.errors import FieldError
from ferry.spec.output import Expectation, Notify
from ferry.spec.schedule import Schedule, Timezone
from ferry.spec.template_rules import (
    DATES,
    MACROS,
    PLACEHOLDERS,
    placeholders_of,
    replace_problems,
    template_problems,
)
from ferry.spec.templates import SAMPLE_VALUES, render

_DURATION = re.compile(r"^\s*([0-9]+)\s*([smhd])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_WAIT_SECONDS = 7 * 86400


def parse_seconds(value: Any) -> int:
    """90, '90s', '30m', '6h' or '2d' as seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration; write e.g. 90s, 30m, 6h or 2d")
    return int(match.group(1)) * _SECONDS[match.group(2)]


# The published schema says what the loader reads: seconds, or a duration in words.
_SECONDS_SCHEMA = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_WAIT_SECONDS},
        {"type": "string", "pattern": _DURATION.pattern, "examples": ["90s", "30m", "6h"]},
    ]
}
Seconds = Annotated[
    int,
    BeforeValidator(parse_seconds),
    Field(gt=0, le=MAX_WAIT_SECONDS),
    WithJsonSchema(_SECONDS_SCHEMA),
]
# The placeholders a file name pattern may hold: the run's dates, nothing else.
PATTERN_PLACEHOLDERS = DATES | {"ds", "ds_nodash", "ts", "ts_nodash"}


def pattern_problems(pattern: str) -> list[str]:
    """Why a file name pattern is not allowed: only the run's date placeholders (sandboxed,
    see ferry.spec.template_rules), and it must render, with a sample run, to one file name."""
    if "/" in pattern or "\\" in pattern:
        return ["is one file name: no '/' or '\\' (put the folder in path)"]
    problems = list(template_problems(pattern, PLACEHOLDERS)) or replace_problems(pattern)
    others = sorted(placeholders_of(pattern) - PATTERN_PLACEHOLDERS - {MACROS})
    if not problems and others:
        allowed = ", ".join(sorted(PATTERN_PLACEHOLDERS))
        problems = [f"placeholder '{others[0]}' is not allowed in a file name; use {allowed}"]
    if problems:
        return problems
    try:
        rendered = render(pattern, SAMPLE_VALUES, allowed=PATTERN_PLACEHOLDERS)
    except Exception as error:  # a definition's own date format: its error
        return [f"cannot be rendered: {type(error).__name__}: {error}"]
    problem = segment_problem(rendered)
    return [f"must be one file name, but {problem} (rendered as {rendered!r})"] if problem else []


def _checked_pattern(pattern: str) -> str:
    problems = pattern_problems(pattern)
    if problems:
        raise ValueError("pattern " + "; ".join(problems))
    return pattern


def _folder(*, absolute: bool):
    """A folder path without placeholders that never climbs out ('..') of where it starts."""

    def check(path: str) -> str:
        if "{" in path or "}" in path:
            raise ValueError("a folder path holds no placeholders; put dates in the pattern")
        problem = path_problem(path, absolute=absolute) if path not in ("", ".") else None
        if problem:
            raise ValueError(f"folder path {problem}")
        return path

    return AfterValidator(check)


# A file name glob (* ? [abc]) that may hold the run's date placeholders, {{ ds_nodash }}.
FilePattern = Annotated[
    str,
    Field(min_length=1, max_length=255),
    AfterValidator(_checked_pattern),
]
Folder = Annotated[str, Field(max_length=1024), _folder(absolute=False)]
ServerFolder = Annotated[str, Field(max_length=1024), _folder(absolute=True)]


class _FileSource(Spec):
    pattern: FilePattern
    files: Literal["one", "all"] = "all"  # one: the newest match only
    done_folder: Folder | None = None  # loaded files go here (under path) after success


class SftpFiles(_FileSource):
    type: Literal["sftp"]
    connection: ConnectionId
    path: ServerFolder = "."  # the folder on the server


class S3Files(_FileSource):
    type: Literal["s3"]
    connection: ConnectionId = "aws_default"
    bucket: Annotated[str, Field(min_length=3, max_length=63)]
    path: Folder = ""  # the key prefix (a folder) the files are under


class FolderFiles(_FileSource):
    """A drop folder on the machine: a path under $FERRY_HOME/drop (never outside it)."""

    type: Literal["folder"]
    path: Folder = "."


ImportSource = Annotated[
    Annotated[SftpFiles, Tag("sftp")]
    | Annotated[S3Files, Tag("s3")]
    | Annotated[FolderFiles, Tag("folder")],
    Discriminator(
        lambda value: (
            value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        ),
        custom_error_type="import_source",
        custom_error_message="source needs type: sftp, s3 or folder",
    ),
]


class ImportFormat(Spec):
    type: Literal["csv", "tsv", "json", "jsonl", "parquet"] = "csv"
    compression: Literal["auto", "none", "gzip", "zip"] = "auto"  # auto: by file extension
    header: bool = True  # csv/tsv: the first line names the columns
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] | None = None
    encoding: Literal["utf-8", "latin-1", "utf-16"] = "utf-8"


class ColumnMap(Spec):
    """A file column loaded into a table column of another name: {field: E-mail, to: email}."""

    field: Annotated[str, Field(min_length=1, max_length=255)]
    to: Identifier


ColumnItem = Annotated[
    Annotated[Identifier, Tag("name")] | Annotated[ColumnMap, Tag("map")],
    Discriminator(lambda value: "name" if isinstance(value, str) else "map"),
]


class Rejects(Spec):
    """Rows failing a type or rule go to the rejects file; over max_rate, the run fails or warns."""

    max_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    on_exceed: Literal["fail", "warn"] = "fail"


class FileWait(Spec):
    timeout: Seconds = 6 * 3600
    poke_interval: Seconds = 300


class ImportSpec(Spec):
    """One import job: which files, in what format, into which table, by which mode."""

    id: Identifier
    name: str
    description: str = ""
    owner: Annotated[str, Field(min_length=1, max_length=100)] = "ferry"
    source: ImportSource
    format: ImportFormat = ImportFormat()
    table: Identifier
    mode: Literal["merge", "append", "overwrite"]
    key: Identifier | None = None  # merge: the column matched on; default the table's key
    columns: Literal["all"] | list[ColumnItem] = "all"
    rejects: Rejects = Rejects()
    expectations: list[Expectation] = []
    wait: FileWait = FileWait()
    schedule: Schedule = "off"
    timezone: Timezone = "UTC"
    enabled: bool = True
    notify: Notify = Notify()
    tags: list[Annotated[str, Field(min_length=1, max_length=100)]] = []
    retries: int = Field(default=2, ge=0, le=10)

    @model_validator(mode="after")
    def _key_is_for_merge(self) -> ImportSpec:
        if self.key and self.mode != "merge":
            raise FieldError("key", f"key applies to mode merge, not {self.mode}; remove it")
        if self.wait.poke_interval > self.wait.timeout:
            raise FieldError("wait", "poke_interval is longer than timeout")
        return self

    @property
    def dag_id(self) -> str:
        return import_dag_id(self.id)

    def column_pairs(self, table_columns: list[str]) -> list[tuple[str, str]]:
        """(file column, table column) for every column loaded, in the file's terms."""
        if self.columns == "all":
            return [(name, name) for name in table_columns]
        return [(c, c) if isinstance(c, str) else (c.field, c.to) for c in self.columns]
