"""Frozen pydantic models of Ferry's YAML definitions: exports, segments, groups, targets.

Every model forbids unknown keys, so a typo is an error that names the field rather than a
setting silently ignored. Cross-file checks (references, table columns) live in the loader.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationInfo,
    WrapValidator,
    field_validator,
    model_validator,
)

from ferry.dag_ids import export_dag_id, group_dag_id
from ferry.spec import templates
from ferry.spec.base import (
    ID_PATTERN,
    MAX_BYTES,
    MAX_ROWS,
    ByteSize,
    ConnectionId,
    Identifier,
    SegmentType,
    Spec,
    parse_byte_size,
)
from ferry.spec.catalogues import ColumnSpec, TablesFile, TableSpec, TargetsFile, TargetSpec
from ferry.spec.destinations import (
    AnyPath,
    Destination,
    DownloadDestination,
    EmailDestination,
    RecipientTemplate,
    RelativePath,
    S3Destination,
    SftpDestination,
    TextTemplate,
    WebhookDestination,
)
from ferry.spec.errors import FieldError
from ferry.spec.imports import (
    ColumnMap,
    FileWait,
    FolderFiles,
    ImportFormat,
    ImportSpec,
    Rejects,
    S3Files,
    SftpFiles,
)
from ferry.spec.names import check_output_name, refuse_duplicates
from ferry.spec.output import (
    Changes,
    ChangesOption,
    ChunkBy,
    Expectation,
    Format,
    Limits,
    Notify,
)
from ferry.spec.report import GroupBucket, Metric, ReportSource, check_report_export
from ferry.spec.rules import AllOf, AnyOf, Condition, FieldOp, NotOf, Rule
from ferry.spec.schedule import (
    FIRST_DAY,
    LAST_DAY,
    SCHEDULE_PRESETS,
    SCHEDULE_WORDS,
    Expires,
    Schedule,
    Timezone,
    check_expires,
    check_schedule,
    check_timezone,
)
from ferry.spec.values import MAX_DAYS

# The other spec modules' models and types are re-exported: `from ferry.spec.models import X`
# stays the one import for every definition model.
__all__ = [
    "FIRST_DAY", "ID_PATTERN", "KEYED_ACTIONS", "LAST_DAY", "MAX_BYTES", "MAX_ROWS",
    "SCHEDULE_PRESETS", "SCHEDULE_WORDS", "TAG_MAX_LEN", "AllOf", "AnyOf", "AnyPath",
    "ByteSize", "Changes", "ChunkBy", "ColumnMap", "ColumnSpec", "Condition", "ConnectionId",
    "DagTag", "DateRange", "Destination", "DownloadDestination", "EmailDestination",
    "Expectation", "Expires", "ExportSpec", "FieldChoice", "FieldItem", "FieldName", "FieldOp",
    "Fields", "FileWait", "Filters", "FolderFiles", "Format", "GroupBucket", "GroupMember",
    "GroupSpec", "HourRange", "Identifier", "ImportFormat", "ImportSpec", "Limits", "Metric",
    "NotOf", "Notify", "OutputName", "Owner", "PiiAction", "PiiRule", "RecipientTemplate",
    "Rejects", "RelativePath", "ReportSource", "Rule", "S3Destination", "S3Files", "Schedule",
    "SegmentSource", "SegmentSpec", "SegmentType", "SftpDestination", "SftpFiles", "Source",
    "Spec", "TableSource", "TableSpec", "TablesFile", "TargetSpec", "TargetsFile",
    "TextTemplate", "Timezone", "WebhookDestination", "Window", "by_shape", "check_expires",
    "check_schedule", "check_timezone", "parse_byte_size",
]  # fmt: skip
OutputName = Annotated[str, AfterValidator(check_output_name)]
TAG_MAX_LEN = 100  # Airflow's DAG refuses a longer tag (airflow.sdk.definitions.dag)
DagTag = Annotated[str, Field(min_length=1, max_length=TAG_MAX_LEN)]
Owner = Annotated[str, Field(min_length=1, max_length=100)]  # Airflow stores owners joined
PiiAction = Literal["keep", "exclude", "hash", "mask", "tokenize"]
KEYED_ACTIONS = ("hash", "tokenize")  # the PII actions that need the ferry_pii key


class SegmentSpec(Spec):
    """A list of profiles, contacts or accounts chosen by rules."""

    id: Identifier
    name: str
    description: str = ""
    type: SegmentType
    rules: Rule


class FieldChoice(Spec):
    """A field to export, optionally renamed or derived: {field: email, as: Email}.

    {field: email, as: email_domain, derive: email_domain} sends only the domain, which is
    not PII, so it needs no pii rule.
    """

    field: str
    as_: OutputName | None = Field(default=None, alias="as")
    derive: Literal["email_domain"] | None = None  # a safe part of a PII value

    @property
    def output_name(self) -> str:
        return self.as_ or self.field


def by_shape(text: Any, other: Any) -> WrapValidator:
    """Validate a `text | other` union by the YAML's shape: a string is the text form, anything
    else the other, so an error is about the form meant, not one per branch of the union."""
    text_form, other_form = TypeAdapter(text), TypeAdapter(other)

    def validate(value: Any, handler: Any) -> Any:
        form = text_form if isinstance(value, str) else other_form
        return form.validate_python(value)

    return WrapValidator(validate)


FieldName = Annotated[str, Field(min_length=1)]
FieldItem = Annotated[FieldName | FieldChoice, by_shape(FieldName, FieldChoice)]
Fields = Annotated[Literal["all"] | list[FieldItem], by_shape(Literal["all"], list[FieldItem])]


class PiiRule(Spec):
    """PII handling with options: {action: mask, keep_last: 4}, {action: hash, normalize: true}.

    normalize: trim and lower-case before hashing or tokenizing, so ' Jane@X.com' and
    'jane@x.com' (one person, typed twice) give the same hash.
    """

    action: PiiAction
    keep_first: int = Field(default=1, ge=0, le=1000)
    keep_last: int = Field(default=0, ge=0, le=1000)
    keep_domain: bool = True
    normalize: bool = False

    @property
    def keyed(self) -> bool:
        """Whether the action needs the ferry_pii key (a secret HMAC key)."""
        return self.action in KEYED_ACTIONS

    @model_validator(mode="after")
    def _normalize_only_when_keyed(self) -> PiiRule:
        if self.normalize and not self.keyed:
            raise FieldError(
                "normalize", f"normalize applies to hash and tokenize, not {self.action}"
            )
        return self


class Window(Spec):
    """Rows whose column falls in the run's data interval."""

    column: str
    range: Literal["data_interval"] = "data_interval"


class DateRange(Spec):
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise FieldError("end", "end is before start; swap them")
        return self


class HourRange(Spec):
    """Hours of the day, start inclusive, end exclusive (UTC): {start: 9, end: 17}."""

    start: int = Field(ge=0, le=23)
    end: int = Field(ge=1, le=24)


class Filters(Spec):
    window: Window | None = None
    date_column: str | None = None
    dates: list[dt.date] = []
    date_range: DateRange | None = None
    hours: HourRange | None = None
    where: list[Condition] = []

    @model_validator(mode="after")
    def _dates_need_column(self) -> Filters:
        if (self.dates or self.date_range or self.hours) and not self.date_column:
            raise FieldError(
                "date_column", "dates, date_range and hours need date_column: the column to test"
            )
        return self


class TableSource(Spec):
    table: Identifier


class SegmentSource(Spec):
    segment: Identifier


def _source_kind(value: Any) -> str | None:
    """Pick the source model by its key, so a bad table name gives one error, not three."""
    if isinstance(value, dict):
        keys = [key for key in ("report", "table", "segment") if key in value]
        return f"{keys[0]} source" if keys else None
    kinds = {TableSource: "table", SegmentSource: "segment", ReportSource: "report"}
    return f"{kinds[type(value)]} source" if type(value) in kinds else None


Source = Annotated[
    Annotated[TableSource, Tag("table source")]
    | Annotated[SegmentSource, Tag("segment source")]
    | Annotated[ReportSource, Tag("report source")],
    Discriminator(
        _source_kind,
        custom_error_type="source_kind",
        custom_error_message=(
            "source needs table: <table>, segment: <segment id> or report: <table>"
        ),
    ),
]


class ExportSpec(Spec):
    """One export: what to read, how to shape it, where to send it and when."""

    id: Identifier
    name: str
    description: str = ""
    owner: Owner = "ferry"
    kind: Literal["data_out", "segment", "report"] = "data_out"
    source: Source
    target: Identifier | None = None
    contacts_of_accounts: bool = False
    fields: Fields = "all"
    filters: Filters = Filters()
    pii: dict[str, Annotated[PiiAction | PiiRule, by_shape(PiiAction, PiiRule)]] = {}
    format: Format = Format()
    destinations: list[Destination] = Field(min_length=1)
    schedule: Schedule = "refresh"
    timezone: Timezone = "UTC"
    depends_on: list[Identifier] | None = None
    limits: Limits = Limits()
    expectations: list[Expectation] = []
    retention_days: int = Field(default=30, gt=0, le=MAX_DAYS)  # dates stay in range
    expires: Expires = None
    enabled: bool = True
    notify: Notify = Notify()
    tags: list[DagTag] = []
    retries: int = Field(default=2, ge=0, le=10)
    changes: ChangesOption = None

    @field_validator("destinations")
    @classmethod
    def _name_fits_paths(cls, destinations: list, info: ValidationInfo) -> list:
        templates.check_export_values(info.data.get("id"), info.data.get("name"), destinations)
        return destinations

    @model_validator(mode="after")
    def _kind_fits_source(self) -> ExportSpec:
        if self.kind == "segment" and not isinstance(self.source, SegmentSource):
            raise FieldError("source", "a segment export needs source: {segment: <segment id>}")
        check_report_export(self)
        if self.kind == "data_out" and not isinstance(self.source, TableSource):
            raise FieldError("source", "a data_out export needs source: {table: <table>}")
        if self.kind == "segment" and not self.target:
            raise FieldError(
                "target", "a segment export needs a target (a profile in targets.yaml)"
            )
        return self

    @field_validator("fields")
    @classmethod
    def _output_names_unique(cls, fields: Any) -> Any:
        """Two columns of one name (ignoring case, as DuckDB and most readers do) would
        fail the query or overwrite each other in a reader: refused at the second."""
        if fields != "all":
            names = [
                (choice, (index,)) if isinstance(choice, str)
                else (choice.output_name, (index, "as" if choice.as_ else "field"))
                for index, choice in enumerate(fields)
            ]  # fmt: skip
            refuse_duplicates(names, "output name")
        return fields

    @property
    def dag_id(self) -> str:
        return export_dag_id(self.id)

    @property
    def file_name(self) -> str:
        return self.format.name or self.id


class GroupMember(Spec):
    """One job of a group: `export: <id>` or `import: <id>`, exactly one of them."""

    export: Identifier | None = None
    import_: Identifier | None = Field(default=None, alias="import")
    continue_on_failure: bool = False

    @model_validator(mode="after")
    def _one_job(self) -> GroupMember:
        if (self.export is None) == (self.import_ is None):
            raise ValueError("a member is one job: write export: <id> or import: <id>")
        return self

    @property
    def job(self) -> str:
        """The id of the export or import the member runs."""
        return self.export or self.import_ or ""

    @property
    def kind(self) -> Literal["export", "import"]:
        return "export" if self.export else "import"


class GroupSpec(Spec):
    """An ordered chain of exports and imports that runs as one DAG."""

    id: Identifier
    name: str
    description: str = ""
    owner: Owner = "ferry"
    members: list[GroupMember] = Field(min_length=1)
    schedule: Schedule = "off"
    timezone: Timezone = "UTC"
    notify: Notify = Notify()
    tags: list[DagTag] = []

    @property
    def dag_id(self) -> str:
        return group_dag_id(self.id)


SegmentSpec.model_rebuild()
