"""Checks before anything is written: target eligibility and size limits, and the preview.

Plain Python called by the check_eligibility and check_limits tasks and by `ferry preview`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ferry import history, paths
from ferry.definitions import current_project
from ferry.exceptions import ExportRejected, ExportSkipped
from ferry.plan import ExportPlan
from ferry.spec.models import ExportSpec, SegmentSource, TargetSpec

DEFAULT_MAX_ROWS = 5_000_000
DEFAULT_MAX_BYTES = 5_000_000_000
SEGMENT_TYPE_NAMES = {
    "contact": "ContactProfile",
    "customer_profile": "CustomerProfile",
    "account": "AccountProfile",
}
B2B_TYPES = ("account", "contact")
NOT_ELIGIBLE = (
    "The following segment is not eligible for this export destination: '{segment}'. "
    "Please choose only segments of type {accepted} and try again."
)


# --- Eligibility -------------------------------------------------------------------------


def check_eligibility(plan: ExportPlan, *, log: logging.Logger) -> dict:
    """A segment export's segment type and fields must suit its target.

    Raises:
        ExportRejected: With the message users know, naming the type the target accepts,
            or naming the required field the export does not send.
    """
    export, project = plan.export, current_project()
    target = project.targets.get(export.target or "")
    if isinstance(export.source, SegmentSource):
        segment = project.segments[export.source.segment]
        _check_segment_type(export, segment, target, log)
        log.info("Segment %s (%s) is eligible for %s", segment.id, segment.type, target.name)
    else:
        log.info("Data-out export of table %s: no segment rules apply", plan.table)
    if target:
        _check_required_fields(plan, target)
    return {"eligible": True}


def _check_segment_type(export: ExportSpec, segment, target: TargetSpec, log) -> None:
    exported_type = "contact" if export.contacts_of_accounts else segment.type
    if exported_type in target.segment_types:
        return
    if segment.type == "account" and "contact" in target.segment_types:
        log.error("To send the contacts of these accounts, set contacts_of_accounts: true")
    accepted = accepted_type_names(target, segment.type)
    raise ExportRejected(NOT_ELIGIBLE.format(segment=segment.name, accepted=accepted))


def accepted_type_names(target: TargetSpec, segment_type: str) -> str:
    """The types to name: those of the segment's own kind of environment (B2B or B2C) when
    the target takes any, so a B2B account segment is pointed at ContactProfile."""
    same_kind = [
        kind for kind in target.segment_types if (kind in B2B_TYPES) == (segment_type in B2B_TYPES)
    ]
    return " or ".join(SEGMENT_TYPE_NAMES[kind] for kind in same_kind or target.segment_types)


def _check_required_fields(plan: ExportPlan, target: TargetSpec) -> None:
    sent = {column.source for column in plan.columns}
    for name in target.required_fields:
        if name in sent:
            continue
        fix = (
            f"it is PII: add pii: {{{name}: keep}}"
            if name in plan.excluded_pii
            else f"add {name} to its fields"
        )
        raise ExportRejected(
            f"Target {target.name} requires the field {name}, which export "
            f"'{plan.export.id}' does not send; {fix}"
        )


# --- Limits ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """One size limit and who set it (for the log and the run record)."""

    value: int
    source: str

    def describe(self, unit: str) -> str:
        return f"{self.value:,} {unit} ({self.source})"


def effective_limits(export: ExportSpec, target: TargetSpec | None) -> dict[str, Limit]:
    """The tightest of the export's, the target's and the platform's limits, by kind."""
    candidates = {
        "max_rows": [Limit(DEFAULT_MAX_ROWS, "platform default")],
        "max_bytes": [Limit(DEFAULT_MAX_BYTES, "platform default")],
        "warn_rows": [],
        "warn_bytes": [],
    }
    sources = [(export.limits, f"export {export.id}")]
    if target:
        sources.append((target, f"target {target.name}"))
    for kind, found in candidates.items():
        found += [Limit(getattr(s, kind), name) for s, name in sources if getattr(s, kind)]
    return {
        kind: min(found, key=lambda limit: limit.value)
        for kind, found in candidates.items()
        if found
    }


def check_limits(plan: ExportPlan, *, log: logging.Logger, record: bool = True) -> dict:
    """Count before writing: warn over the warning sizes, skip over a maximum (recorded).

    Raises:
        ExportSkipped: Over a maximum; the reason is logged and, with record, kept in the
            run history. Nothing is written or delivered.
    """
    from ferry import engine

    rows, size = engine.count(plan, warehouse=paths.warehouse_path())
    limits = effective_limits(plan.export, current_project().targets.get(plan.export.target or ""))
    log.info("Export %s: %s rows, about %s bytes", plan.export.id, f"{rows:,}", f"{size:,}")
    reason = over_maximum(rows, size, limits)
    if reason:
        if record:
            history.record_skip(plan.run, reason)
        log.warning("Skipping export %s: %s; nothing is delivered", plan.export.id, reason)
        raise ExportSkipped(reason)
    for warning in over_warning(rows, size, limits):
        log.warning("Large export %s: %s", plan.export.id, warning)
    return {"rows": rows, "estimated_bytes": size}


def over_maximum(rows: int, size: int, limits: dict[str, Limit]) -> str:
    """Why the export is too large to send, or '' when it is not."""
    for kind, value, unit in (("max_rows", rows, "rows"), ("max_bytes", size, "bytes")):
        if value > limits[kind].value:
            return f"{value:,} {unit} is over the maximum of {limits[kind].describe(unit)}"
    return ""


def over_warning(rows: int, size: int, limits: dict[str, Limit]) -> list[str]:
    """A line per warning size the export is over."""
    lines = []
    for kind, value, unit in (("warn_rows", rows, "rows"), ("warn_bytes", size, "bytes")):
        if kind in limits and value > limits[kind].value:
            lines.append(
                f"{value:,} {unit} is over the warning size of {limits[kind].describe(unit)}"
            )
    return lines


# --- Preview -------------------------------------------------------------------------------


@dataclass
class Preview:
    """What a run of an export would do, found without writing or sending anything."""

    plan: ExportPlan
    target: TargetSpec | None
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


def preview(plan: ExportPlan, *, warehouse: Path, pii_key: bytes | None, rows: int = 10) -> Preview:
    """Eligibility, row count, files and bytes against the limits, and the first rows."""
    from ferry import engine

    target = current_project().targets.get(plan.export.target or "")
    found = Preview(plan, target, effective_limits(plan.export, target))
    quiet = logging.getLogger("ferry.preview")
    quiet.setLevel(logging.WARNING)  # the report says it all; hints (errors) still show
    try:
        check_eligibility(plan, log=quiet)
    except ExportRejected as rejected:
        found.not_eligible = str(rejected)
    found.rows, found.estimated_bytes = engine.count(plan, warehouse=warehouse)
    found.skip_reason = over_maximum(found.rows, found.estimated_bytes, found.limits)
    found.warnings = over_warning(found.rows, found.estimated_bytes, found.limits)
    try:
        found.sample, found.sample_rows = first_rows_as_written(
            plan, warehouse=warehouse, pii_key=pii_key, rows=rows
        )
    except engine.MissingPiiKeyError as missing:
        found.sample_problem = str(missing)
    return found


def first_rows_as_written(
    plan: ExportPlan, *, warehouse: Path, pii_key: bytes | None, rows: int
) -> tuple[str, int]:
    """The start of the first file: the writers' own SQL for text formats (so the header,
    quoting and PII are exactly the file's), one JSON object per row for Parquet."""
    from ferry import engine
    from ferry.engine import formats, pii, query

    if plan.format.type not in formats.TEXT_TYPES:
        sample = engine.preview(plan, warehouse=warehouse, pii_key=pii_key, limit=rows)
        return "\n".join(_json_line(row) for row in sample), len(sample)
    pii.require_key(plan.columns, pii_key)
    select = query.sliced_query(query.output_select(plan, pii_key), limit=rows)
    with query.connect(warehouse) as con:
        lines = [line for (line,) in con.execute(select.text, list(select.params)).fetchall()]
    body = "".join(lines)
    if plan.format.type == "json" and body:
        body = body[len(formats.JSON_SEPARATOR) :]  # the writer skips it before a file's first row
    header = formats.header_bytes(plan.format.type, [c.name for c in plan.columns]).decode()
    return header + body, len(lines)


def _json_line(row: dict) -> str:
    return json.dumps(row, default=str, ensure_ascii=False)
