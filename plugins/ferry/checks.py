"""Checks before anything is written: target eligibility and size limits.

Plain Python called by the check_eligibility and check_limits tasks and by `ferry preview`.
"""

from __future__ import annotations

import logging

from ferry import history, paths
from ferry.exceptions import ExportRejected, ExportSkipped
from ferry.plan import ExportPlan
from ferry.spec.models import SegmentSource

DEFAULT_MAX_ROWS = 5_000_000
DEFAULT_MAX_BYTES = 5_000_000_000
SEGMENT_TYPE_NAMES = {
    "contact": "ContactProfile",
    "customer_profile": "CustomerProfile",
    "account": "AccountProfile",
}


def _project():
    from ferry.steps import current_project

    return current_project()


def check_eligibility(plan: ExportPlan, *, log: logging.Logger) -> dict:
    """A segment export's segment type and fields must suit its target."""
    export, project = plan.export, _project()
    if not isinstance(export.source, SegmentSource):
        log.info("Data-out export of table %s: no target rules apply", plan.table)
        return {"eligible": True}
    segment = project.segments[export.source.segment]
    target = project.targets[export.target]
    exported_type = "contact" if export.contacts_of_accounts else segment.type
    if exported_type not in target.segment_types:
        accepted = " or ".join(SEGMENT_TYPE_NAMES[kind] for kind in target.segment_types)
        raise ExportRejected(
            f"The following segment is not eligible for this export destination: "
            f"'{segment.name}'. Please choose only segments of type {accepted} and try again."
        )
    sent = {column.source for column in plan.columns}
    missing = [name for name in target.required_fields if name not in sent]
    if missing:
        raise ExportRejected(
            f"Target {target.name} requires the field(s) {', '.join(missing)}; "
            f"add them to the fields of export '{export.id}'"
        )
    log.info("Segment %s (%s) is eligible for %s", segment.id, segment.type, target.name)
    return {"eligible": True}


def check_limits(plan: ExportPlan, *, log: logging.Logger, record: bool = True) -> dict:
    """Count before writing: warn over the warning sizes, skip over a maximum (recorded)."""
    from ferry import engine

    rows, size = engine.count(plan, warehouse=paths.warehouse_path())
    limits = _limits(plan)
    log.info("Rows %s, estimated bytes %s; limits %s", f"{rows:,}", f"{size:,}", limits)
    for measure, value in (("rows", rows), ("bytes", size)):
        if value > limits[f"max_{measure}"]:
            reason = f"{value:,} {measure} is over the maximum of {limits[f'max_{measure}']:,}"
            if record:
                history.record_skip(plan.run, reason)
            log.warning("Skipping export %s: %s; nothing is delivered", plan.export.id, reason)
            raise ExportSkipped(reason)
        warn_at = limits.get(f"warn_{measure}")
        if warn_at and value > warn_at:
            log.warning(
                "Large export: %s %s is over the warning size of %s", value, measure, warn_at
            )
    return {"rows": rows, "estimated_bytes": size}


def _limits(plan: ExportPlan) -> dict[str, int]:
    """The tightest of the export's, the target's and the platform's limits."""
    export_limits = plan.export.limits
    target = _project().targets.get(plan.export.target or "")
    sources = [export_limits] + ([target] if target else [])
    limits = {"max_rows": DEFAULT_MAX_ROWS, "max_bytes": DEFAULT_MAX_BYTES}
    for key in ("max_rows", "max_bytes", "warn_rows", "warn_bytes"):
        values = [getattr(source, key) for source in sources if getattr(source, key)]
        values += [limits[key]] if key in limits else []
        if values:
            limits[key] = min(values)
    return limits
