"""How an export's output is shaped: format and chunking, limits, notices, expectations,
and changes-only delivery.

Re-exported by ferry.spec.models, the one import for every definition model.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from ferry.safe_names import file_stem
from ferry.spec.base import MAX_ROWS, ByteSize, Identifier, Spec
from ferry.spec.errors import FieldError


class ChunkBy(Spec):
    """One file set per period of a column's time: {column: created_at, every: week}.

    Periods are UTC; weeks start on Monday (as report buckets). Row and byte chunking
    still apply inside each period.
    """

    column: str
    every: Literal["hour", "day", "week", "month"]


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
    chunk_by: ChunkBy | None = None

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


def _changes_shorthand(value: Any) -> Any:
    """`changes: true` is {} (every default); false is no changes-only delivery."""
    if value is True:
        return {}
    return None if value is False else value


class Changes(Spec):
    """Send only rows added, changed or removed since the last fully delivered run.

    output: column adds a last column _change (added | changed | removed) to every file;
    files writes three file sets, added_*, changed_* and removed_*.
    key: the column (of the source table) that identifies a row; default the table's key.
    """

    output: Literal["column", "files"] = "column"
    key: Identifier | None = None


# bool only for the published schema (changes: true): the shorthand never reaches validation
ChangesOption = Annotated[Changes | bool | None, BeforeValidator(_changes_shorthand)]
