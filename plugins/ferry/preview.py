"""`ferry preview`: what a run of an export would do, found without writing or sending.

The checks (ferry.checks) judged on the plan, the engine's count, and the first rows
exactly as the writers would write them; the report is what the command line prints.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ferry.checks import Limit, check_eligibility, effective_limits, over_maximum, over_warning
from ferry.exceptions import ExportRejected
from ferry.plan import ExportPlan
from ferry.spec.models import SegmentSource, TargetSpec

if TYPE_CHECKING:
    from ferry.sources import Source


@dataclass
class Preview:
    """What a run of an export would do, found without writing or sending anything."""

    plan: ExportPlan
    limits: dict[str, Limit]
    rows: int = 0
    estimated_bytes: int = 0
    not_eligible: str = ""
    skip_reason: str = ""
    warnings: list[str] = field(default_factory=list)
    sample: str = ""
    sample_rows: int = 0
    sample_problem: str = ""

    @property
    def target(self) -> TargetSpec | None:
        return self.plan.target

    @property
    def would_run(self) -> bool:
        return not (self.not_eligible or self.skip_reason)

    @property
    def estimated_files(self) -> int:
        """Files the rows fill: by rows_per_file, or bytes_per_file when that cuts sooner."""
        fmt = self.plan.format
        files = -(-self.rows // fmt.rows_per_file)
        if fmt.bytes_per_file:
            files = max(files, -(-self.estimated_bytes // fmt.bytes_per_file))
        return max(files, 1)

    def report(self) -> str:
        """The preview as the command line prints it."""
        return "\n".join([*self._summary(), "", *self._sample_lines()])

    def _summary(self) -> list[str]:
        export, limits = self.plan.export, self.limits
        caps = [limits["max_rows"].describe("rows")]
        caps += (
            [f"warning at {limits['warn_rows'].describe('rows')}"] if "warn_rows" in limits else []
        )
        return [
            f"Preview of export {export.id} ({export.name}); nothing is written or sent",
            f"  reads:     {_source_text(self.plan)}",
            f"  target:    {self.target.name if self.target else '-'}",
            f"  eligible:  {'no: ' + self.not_eligible if self.not_eligible else 'yes'}",
            f"  rows:      {self.rows:,} (maximum {'; '.join(caps)})",
            f"  size:      about {self.estimated_bytes:,} bytes in {self.estimated_files} "
            f"file(s) (maximum {limits['max_bytes'].describe('bytes')})",
            f"  outcome:   {self._outcome()}",
        ]

    def _outcome(self) -> str:
        if self.not_eligible:
            return "would fail: not eligible for the target"
        if self.skip_reason:
            return f"would be skipped: {self.skip_reason}"
        if self.warnings:
            return "would run, with a warning: " + "; ".join(self.warnings)
        return "would run"

    def _sample_lines(self) -> list[str]:
        if self.sample_problem:
            return [f"No sample: {self.sample_problem}"]
        first = f"{self.plan.file_name}_00001.{self.plan.format.extension}"
        chunk_by = self.plan.format.chunk_by
        if chunk_by is not None:  # the rows go to their period's files (ferry.engine.periods)
            first = (
                f"{self.plan.file_name}_<{chunk_by.every}>_00001.{self.plan.format.extension}, "
                f"one file set per {chunk_by.every} of {chunk_by.column}"
            )
        packed = (
            ""
            if self.plan.format.compression == "none"
            else f", {self.plan.format.compression}-compressed there"
        )
        more = (
            f"; {self.rows - self.sample_rows:,} more rows follow"
            if self.rows > self.sample_rows
            else ""
        )
        return [f"First {self.sample_rows} rows as written to {first}{packed}{more}:", self.sample]


def _source_text(plan: ExportPlan) -> str:
    source = plan.export.source
    if not isinstance(source, SegmentSource):
        return f"table {plan.table}"
    of = "contacts of the accounts in " if plan.export.contacts_of_accounts else ""
    return f"{of}segment {source.segment}, from table {plan.table}"


def preview_run(
    plan: ExportPlan, *, source: Source | Path, pii_key: bytes | None, rows: int = 10
) -> Preview:
    """Eligibility, row count, files and bytes against the limits, and the first rows."""
    from ferry import engine

    found = Preview(plan, effective_limits(plan.export, plan.target))
    quiet = logging.getLogger("ferry.preview")
    quiet.setLevel(logging.WARNING)  # the report says it all; hints (errors) still show
    try:
        check_eligibility(plan, log=quiet)
    except ExportRejected as rejected:
        found.not_eligible = str(rejected)
    found.rows, found.estimated_bytes = engine.count(plan, source=source)
    found.skip_reason = over_maximum(found.rows, found.estimated_bytes, found.limits)
    found.warnings = over_warning(found.rows, found.estimated_bytes, found.limits)
    try:
        found.sample, found.sample_rows = first_rows_as_written(
            plan, source=source, pii_key=pii_key, rows=rows
        )
    except engine.MissingPiiKeyError as missing:
        found.sample_problem = str(missing)
    return found


def first_rows_as_written(
    plan: ExportPlan, *, source: Source | Path, pii_key: bytes | None, rows: int
) -> tuple[str, int]:
    """The start of the first file: the writers' own SQL for text formats (so the header,
    quoting and PII are exactly the file's), one JSON object per row for Parquet."""
    from ferry import engine
    from ferry.engine import formats, pii, query
    from ferry.engine.read import open_reader

    if plan.format.type not in formats.TEXT_TYPES:
        sample = engine.preview(plan, source=source, pii_key=pii_key, limit=rows)
        return "\n".join(_json_line(row) for row in sample), len(sample)
    pii.require_key(plan.columns, pii_key)
    with open_reader(plan, source) as reader:
        select = query.output_select(plan, pii_key, reader.relation)
        table = reader.rows(query.sliced_query(select, limit=rows), limit=rows).read_all()
    lines = table.column(0).to_pylist()
    body = "".join(lines)
    if plan.format.type == "json" and body:
        body = body[len(formats.JSON_SEPARATOR) :]  # the writer skips it before a file's first row
    header = formats.header_bytes(plan.format.type, [c.name for c in plan.columns]).decode()
    return header + body, len(lines)


def _json_line(row: dict) -> str:
    return json.dumps(row, default=str, ensure_ascii=False)
