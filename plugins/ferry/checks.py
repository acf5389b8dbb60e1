"""Checks before anything is written: target eligibility and size limits.

Plain Python on a plan alone (the plan carries the export's target and segment), called
by the check_eligibility and check_limits steps and by `ferry preview` (ferry.preview).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ferry import history
from ferry.exceptions import ExportRejected, ExportSkipped
from ferry.plan import ExportPlan
from ferry.spec.models import ExportSpec, SegmentSpec, TargetSpec

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
    export, target, segment = plan.export, plan.target, plan.segment
    if segment is not None:
        _check_segment_type(export, segment, target, log)
        log.info("Segment %s (%s) is eligible for %s", segment.id, segment.type, target.name)
    else:
        log.info("Data-out export of table %s: no segment rules apply", plan.table)
    if target:
        _check_required_fields(plan, target)
    return {"eligible": True}


def _check_segment_type(
    export: ExportSpec, segment: SegmentSpec, target: TargetSpec, log: logging.Logger
) -> None:
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
    # a derived column (email_domain) sends only a part of its source: it does not count
    sent = {column.source for column in plan.columns if not column.derive}
    for name in target.required_fields:
        if name not in sent:
            raise ExportRejected(
                f"Target {target.name} requires the field {name}, which export "
                f"'{plan.export.id}' does not send; {_required_field_fix(plan, name)}"
            )


def _required_field_fix(plan: ExportPlan, name: str) -> str:
    derived = next((c for c in plan.columns if c.source == name and c.derive), None)
    if derived is not None:
        return (
            f"its column {derived.name} (derive: {derived.derive}) sends only a part of "
            f"{name}: add {name} to its fields as well"
        )
    if name in plan.excluded_pii:
        return f"it is PII: add pii: {{{name}: keep}}"
    return f"add {name} to its fields"


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
    from ferry import engine, sources

    if plan.changes is not None:  # the change set is known only after extract's diff
        log.info("Export %s sends changes only: its limits apply to the change set, in "
                 "extract", plan.export.id)  # fmt: skip
        return {"rows": None, "estimated_bytes": None}
    rows, size = engine.count(plan, source=sources.source_for(plan.connection))
    _judge(plan, rows, size, log=log, record=record)
    return {"rows": rows, "estimated_bytes": size}


def check_change_limits(plan: ExportPlan, rows: int, size: int, *, log: logging.Logger) -> None:
    """A changes-only export's limits, on the change set extract wrote (rows, bytes).

    Raises:
        ExportSkipped: Over a maximum, recorded as check_limits does; the run's state is
            not committed, so a later run (with higher limits) sends these changes.
    """
    log.info("Export %s: the change set is %s rows, %s bytes", plan.export.id, f"{rows:,}",
             f"{size:,}")  # fmt: skip
    _judge(plan, rows, size, log=log, record=True)


def _judge(plan: ExportPlan, rows: int, size: int, *, log: logging.Logger, record: bool) -> None:
    limits = effective_limits(plan.export, plan.target)
    if plan.changes is None:
        log.info("Export %s: %s rows, about %s bytes", plan.export.id, f"{rows:,}", f"{size:,}")
    reason = over_maximum(rows, size, limits)
    if reason:
        if record:
            history.record_skip(plan.run, reason)
        log.warning("Skipping export %s: %s; nothing is delivered", plan.export.id, reason)
        raise ExportSkipped(reason)
    for warning in over_warning(rows, size, limits):
        log.warning("Large export %s: %s", plan.export.id, warning)


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
