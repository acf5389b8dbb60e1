"""Frozen pydantic models of Ferry's YAML definitions: exports, segments, groups, targets.

Every model forbids unknown keys, so a typo is an error that names the field rather than a
setting silently ignored. Cross-file checks (references, table columns) live in the loader.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationInfo,
    WrapValidator,
    field_validator,
    model_validator,
)

from ferry.column_types import TEMPORAL_TYPES, base_type, canonical_type
from ferry.safe_names import file_stem
from ferry.spec import templates
from ferry.spec.errors import FieldError, shorten
from ferry.spec.names import (
    check_output_name,
    column_name_problem,
    located_error,
    refuse_duplicates,
)
from ferry.spec.values import MAX_DAYS

ID_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
OutputName = Annotated[str, AfterValidator(check_output_name)]
ConnectionId = Annotated[str, Field(min_length=1, max_length=250)]
# Templates: only the documented placeholders, checked when the definition loads.
RelativePath = Annotated[str, AfterValidator(templates.relative_path)]
AnyPath = Annotated[str, AfterValidator(templates.absolute_or_relative_path)]
TextTemplate = Annotated[str, AfterValidator(templates.text_template)]
RecipientTemplate = Annotated[str, AfterValidator(templates.recipient_template)]
TAG_MAX_LEN = 100  # Airflow's DAG refuses a longer tag (airflow.sdk.definitions.dag)
DagTag = Annotated[str, Field(min_length=1, max_length=TAG_MAX_LEN)]
Owner = Annotated[str, Field(min_length=1, max_length=100)]  # Airflow stores owners joined
FIRST_DAY = dt.date(2026, 1, 1)  # every Ferry DAG's start_date (in its time zone)
LAST_DAY = dt.date(9998, 12, 31)  # later dates overflow once shifted to UTC or a next run

FieldOp = Literal[
    "eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between",
    "contains", "starts_with", "is_null", "not_null", "regex", "within_last_days",
]  # fmt: skip
PiiAction = Literal["keep", "exclude", "hash", "mask", "tokenize"]
SegmentType = Literal["customer_profile", "contact", "account"]
SCHEDULE_PRESETS = ("refresh", "once", "off", "@hourly", "@daily", "@weekly", "@monthly")
SCHEDULE_WORDS = ("hourly", "daily", "weekly", "monthly")  # the same as the @ forms
_SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


class Spec(BaseModel):
    """Base of every definition model: immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def parse_byte_size(value: Any) -> int:
    """Turn 5GB, '250 MB' or 1000 into a byte count."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*", str(value).upper())
    if not match or match.group(2) not in _SIZE_UNITS:
        raise ValueError(f"{value!r} is not a size; write bytes or e.g. 500MB, 5GB")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


MAX_BYTES = 10**15  # 1 PB: sizes stay exact in int64 (numpy) and JSON numbers
MAX_ROWS = 10**12
ByteSize = Annotated[int, BeforeValidator(parse_byte_size), Field(gt=0, le=MAX_BYTES)]


def check_schedule(value: str) -> str:
    """Accept the presets and five-field crons; anything else gets the list of choices."""
    from croniter import croniter

    if value in SCHEDULE_PRESETS or value in SCHEDULE_WORDS:
        return value
    if len(value.split()) == 5 and croniter.is_valid(value):
        _fires(value)
        return value
    raise ValueError(
        f"{shorten(value)} is not a schedule; use refresh, once, off, hourly, daily, weekly, "
        "monthly (or @daily ...) or a five-field cron such as '0 2 * * *'"
    )


def _fires(cron: str) -> None:
    """A cron such as '0 0 31 2 *' (31 February) is valid syntax but never runs."""
    from croniter import CroniterBadDateError, croniter

    try:
        croniter(cron, dt.datetime.combine(FIRST_DAY, dt.time())).get_next(dt.datetime)
    except CroniterBadDateError:
        raise ValueError(f"{shorten(cron)} never runs: no such day") from None


def check_expires(value: dt.date | None) -> dt.date | None:
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(
            f"expires {value} is outside {FIRST_DAY} to {LAST_DAY}: "
            "Ferry schedules nothing before its first day; remove expires or set enabled: false"
        )
    return value


Expires = Annotated[dt.date | None, AfterValidator(check_expires)]


def check_timezone(value: str) -> str:
    """An IANA name ZoneInfo knows (a long name raises OSError there, not ValueError)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if len(value) > 64:
            raise ValueError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {shorten(value)}; use an IANA name such as UTC or America/New_York"
        ) from None
    return value


Timezone = Annotated[str, AfterValidator(check_timezone)]


def _unquoted_off(value: Any) -> Any:
    """YAML reads an unquoted `off` as false; a schedule means the word."""
    return "off" if value is False else value


Schedule = Annotated[str, BeforeValidator(_unquoted_off), AfterValidator(check_schedule)]


class Condition(Spec):
    """One comparison of a field with a value: {field: state, op: in, value: [TX, CA]}."""

    field: str
    op: FieldOp
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        if self.op in ("is_null", "not_null"):
            if self.value is not None:
                raise FieldError("value", f"op {self.op} takes no value; remove 'value'")
        elif self.op in ("in", "not_in"):
            if not isinstance(self.value, list) or not self.value:
                raise FieldError(
                    "value", f"op {self.op} needs a non-empty list as value, e.g. [TX, CA]"
                )
        elif self.op == "between":
            if not isinstance(self.value, list) or len(self.value) != 2:
                raise FieldError("value", "op between needs a two-item list as value: [low, high]")
        elif self.op == "within_last_days":
            days = self.value
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
                problem = f"op within_last_days needs a whole number of days from 1 to {MAX_DAYS}"
                raise located_error(("value",), problem, days)
        elif self.value is None or isinstance(self.value, (list, dict)):
            raise FieldError("value", f"op {self.op} needs a single value; for several use op: in")
        for index, item in enumerate(self.value if isinstance(self.value, list) else []):
            _refuse_non_scalar(self.op, index, item)
        return self


def _refuse_non_scalar(op: str, index: int, item: Any) -> None:
    """An item of in, not_in or between is compared with one column value: a list, a
    mapping or null there would match nothing, silently."""
    if item is None:
        problem = f"null in op {op} matches nothing; use op: is_null or not_null"
    elif isinstance(item, (list, dict)):
        kind = "list" if isinstance(item, list) else "mapping"
        problem = f"a {kind} is not a single value; op {op} takes text, numbers, dates or booleans"
    else:
        return
    raise located_error(("value", index), problem, item)


class AllOf(Spec):
    all: list[Rule] = Field(min_length=1)


class AnyOf(Spec):
    any: list[Rule] = Field(min_length=1)


class NotOf(Spec):
    not_: Rule = Field(alias="not")


def _rule_kind(value: Any) -> str:
    if isinstance(value, dict):
        return next((key for key in ("all", "any", "not") if key in value), "condition")
    return {AllOf: "all", AnyOf: "any", NotOf: "not"}.get(type(value), "condition")


Rule = Annotated[
    Annotated[Condition, Tag("condition")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")],
    Discriminator(_rule_kind),
]


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

    @model_validator(mode="after")
    def _normalize_only_when_keyed(self) -> PiiRule:
        if self.normalize and self.action not in ("hash", "tokenize"):
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
        return (
            "segment source"
            if "segment" in value and "table" not in value
            else ("table source" if "table" in value else None)
        )
    return {TableSource: "table source", SegmentSource: "segment source"}.get(type(value))


Source = Annotated[
    Annotated[TableSource, Tag("table source")] | Annotated[SegmentSource, Tag("segment source")],
    Discriminator(
        _source_kind,
        custom_error_type="source_kind",
        custom_error_message="source needs table: <table> or segment: <segment id>",
    ),
]


class Format(Spec):
    type: Literal["csv", "tsv", "json", "jsonl", "parquet"] = "csv"
    compression: Literal["none", "gzip", "zip", "zstd"] = "none"
    rows_per_file: int = Field(default=100_000, gt=0, le=MAX_ROWS)
    bytes_per_file: ByteSize | None = None
    pretty: bool = False
    name: Annotated[str, AfterValidator(file_stem)] | None = None
    # CSV/TSV cells (and headers) starting with = + - @ tab or CR get a leading ' (OWASP),
    # so a spreadsheet shows them as text, not formulas. None: on when a destination is
    # email or download (files people open), off otherwise.
    formula_guard: bool | None = None

    @model_validator(mode="after")
    def _compression_fits_type(self) -> Format:
        if self.formula_guard and self.type not in ("csv", "tsv"):
            raise ValueError("formula_guard applies to csv and tsv; remove it for " + self.type)
        if self.compression == "zstd" and self.type != "parquet":
            raise FieldError(
                "compression", "zstd compression is for parquet; use gzip or zip for text formats"
            )
        if self.compression == "zip" and self.type == "parquet":
            raise FieldError(
                "compression", "parquet compresses inside the file: use zstd, gzip or none"
            )
        return self

    @property
    def extension(self) -> str:
        ext = {"parquet": "parquet"}.get(self.type, self.type)
        if self.type == "parquet" or self.compression in ("none", "zstd"):
            return ext
        return f"{ext}.{'gz' if self.compression == 'gzip' else 'zip'}"


class _Destination(Spec):
    name: Identifier | None = None


class S3Destination(_Destination):
    type: Literal["s3"]
    connection: ConnectionId
    bucket: str = Field(min_length=3)
    path: RelativePath
    encryption: Literal["AES256", "aws:kms"] | None = None
    kms_key_id: str | None = None  # with aws:kms; the bucket's default key when unset


class SftpDestination(_Destination):
    type: Literal["sftp"]
    connection: ConnectionId
    path: AnyPath


class EmailDestination(_Destination):
    type: Literal["email"]
    connection: ConnectionId = "smtp_default"
    to: list[RecipientTemplate] = Field(min_length=1)
    subject: TextTemplate = "Ferry export {{ export_name }} for {{ ds }}"
    body: TextTemplate = ""
    max_attachment_bytes: ByteSize = 10_000_000


class WebhookDestination(_Destination):
    type: Literal["webhook"]
    connection: ConnectionId
    endpoint: Annotated[str, AfterValidator(templates.endpoint)] = ""
    mode: Literal["records", "manifest"] = "records"
    batch_size: int = Field(default=500, gt=0, le=100_000)  # one request body in memory
    signing_connection: ConnectionId | None = None
    max_reject_rate: float = Field(default=0.0, ge=0, le=1)
    on_rejects_over: Literal["fail", "warn"] = "fail"


class DownloadDestination(_Destination):
    type: Literal["download"]


Destination = Annotated[
    S3Destination | SftpDestination | EmailDestination | WebhookDestination | DownloadDestination,
    Field(discriminator="type"),
]


class Limits(Spec):
    max_rows: int | None = Field(default=None, gt=0, le=MAX_ROWS)
    max_bytes: ByteSize | None = None
    warn_rows: int | None = Field(default=None, gt=0, le=MAX_ROWS)
    warn_bytes: ByteSize | None = None


class Notify(Spec):
    on_failure: list[str] = []
    on_success: list[str] = []
    on_empty: list[str] = []


class Expectation(Spec):
    """A data expectation checked on the staged files before delivery."""

    expect: Literal["not_null", "unique", "regex", "value_set", "row_count_between"]
    field: str | None = None
    pattern: str | None = None
    values: list[Any] | None = None
    min: int | None = None
    max: int | None = None
    on_failure: Literal["fail", "warn"] = "fail"

    @model_validator(mode="after")
    def _arguments_fit(self) -> Expectation:
        needs = {"regex": "pattern", "value_set": "values"}.get(self.expect)
        if self.expect != "row_count_between" and not self.field:
            raise FieldError("field", f"expect {self.expect} needs 'field'")
        if needs and getattr(self, needs) is None:
            raise FieldError(needs, f"expect {self.expect} needs '{needs}'")
        if self.expect == "row_count_between" and self.min is None and self.max is None:
            raise FieldError("min", "expect row_count_between needs 'min', 'max' or both")
        return self


class ExportSpec(Spec):
    """One export: what to read, how to shape it, where to send it and when."""

    id: Identifier
    name: str
    description: str = ""
    owner: Owner = "ferry"
    kind: Literal["data_out", "segment"] = "data_out"
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

    @field_validator("destinations")
    @classmethod
    def _name_fits_paths(cls, destinations: list, info: ValidationInfo) -> list:
        paths = [getattr(destination, "path", None) for destination in destinations]
        templates.check_export_name(info.data.get("name"), paths)
        return destinations

    @model_validator(mode="after")
    def _kind_fits_source(self) -> ExportSpec:
        if self.kind == "segment" and not isinstance(self.source, SegmentSource):
            raise FieldError("source", "a segment export needs source: {segment: <segment id>}")
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
        return f"export__{self.id}"

    @property
    def file_name(self) -> str:
        return self.format.name or self.id


class GroupMember(Spec):
    export: Identifier
    continue_on_failure: bool = False


class GroupSpec(Spec):
    """An ordered chain of exports that runs as one DAG."""

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
        return f"group__{self.id}"


class TargetSpec(Spec):
    """A system segments are exported to, and the rules it imposes."""

    name: str
    segment_types: list[SegmentType] = Field(min_length=1)
    required_fields: list[str] = []
    max_rows: int | None = Field(default=None, gt=0, le=MAX_ROWS)
    warn_rows: int | None = Field(default=None, gt=0, le=MAX_ROWS)
    max_bytes: ByteSize | None = None
    warn_bytes: ByteSize | None = None


class TargetsFile(Spec):
    targets: dict[Identifier, TargetSpec]


class ColumnSpec(Spec):
    type: Annotated[str, AfterValidator(canonical_type)]  # only the canonical form is kept
    pii: bool = False


class TableSpec(Spec):
    description: str = ""
    key: str
    segment_type: SegmentType | None = None
    timestamp: str | None = None
    columns: dict[str, ColumnSpec] = Field(min_length=1)

    @field_validator("columns", mode="before")
    @classmethod
    def _column_names(cls, columns: Any) -> Any:
        """Names are checked before the columns, so the error names the column's line."""
        if isinstance(columns, dict):
            for name in columns:
                problem = column_name_problem(name)
                if problem:
                    raise located_error((name,), problem, name)
            refuse_duplicates([(name, (name,)) for name in columns], "column")
        return columns

    @model_validator(mode="after")
    def _key_and_timestamp_are_columns(self) -> TableSpec:
        if self.key not in self.columns:
            message = f"key '{self.key}' is not one of the table's columns"
            raise located_error(("key",), message, self.key)
        if self.timestamp is not None:
            column = self.columns.get(self.timestamp)
            if column is None or base_type(column.type) not in TEMPORAL_TYPES:
                message = f"'{self.timestamp}' is not a DATE or TIMESTAMP column of the table"
                raise located_error(("timestamp",), message, self.timestamp)
        return self


class TablesFile(Spec):
    tables: dict[Identifier, TableSpec]


for _model in (AllOf, AnyOf, NotOf, SegmentSpec):
    _model.model_rebuild()
