"""validate: the export's expectations, checked by GX Core on the staged files.

Files are read back batch by batch (never all at once) and each batch is validated by
Great Expectations; counts add up across batches. Two checks need the whole result and
get it without holding it: the row count (GX on an index-only frame of the total length)
and uniqueness across files (values of the column spilled to a temporary DuckDB file).
Great Expectations is imported inside validate: it costs seconds at import. Its loggers
stay at WARNING meanwhile (its import alone logs some 200 INFO lines into the task's log);
Ferry logs one line per expectation instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import decimal
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ferry.engine.staged import file_batches
from ferry.exceptions import Terminal
from ferry.manifest import Manifest
from ferry.plan import CHANGE_COLUMN, ExportPlan
from ferry.spec.columns import column_for
from ferry.spec.models import Expectation

LOG = logging.getLogger("ferry.engine")
GX_LOGGER = "great_expectations"
SAMPLE_VALUES = 10
_TEXT_FORMATS = ("csv", "tsv")


class ExpectationsFailed(Terminal):
    """An expectation with on_failure: fail did not hold; .summary has the details.

    Terminal: the staged data does not change, so another try fails the same way.
    """

    def __init__(self, summary: dict):
        self.summary = summary
        super().__init__("expectations failed: " + "; ".join(summary["failed"]))


@dataclass
class Check:
    """One expectation, its output column, and what the batches said so far."""

    index: int
    spec: Expectation
    column: str | None
    elements: int = 0
    unexpected: int = 0
    sample: list = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    observed: Any = None
    success: bool = True

    def add(self, result) -> None:
        """Fold one GX result (one batch) into the totals."""
        details = result.result or {}
        self.elements += details.get("element_count") or 0
        self.unexpected += details.get("unexpected_count") or 0
        self.observed = details.get("observed_value", self.observed)
        room = SAMPLE_VALUES - len(self.sample)
        self.sample += [_plain(v) for v in (details.get("partial_unexpected_list") or [])[:room]]
        error = (result.exception_info or {}).get("exception_message")
        if (result.exception_info or {}).get("raised_exception") and error not in self.errors:
            self.errors.append(error)
        self.success = self.success and bool(result.success)

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        if self.errors:
            return f"{self.spec.expect}{where}: {self.errors[0]}"
        if self.spec.expect == "row_count_between":
            return f"row_count_between: {self.observed} rows, expected {_bounds(self.spec)}"
        sample = f" (e.g. {self.sample[:3]})" if self.sample else ""
        return f"{self.spec.expect}{where}: {self.unexpected} of {self.elements} unexpected{sample}"

    def as_dict(self) -> dict:
        return {
            "expect": self.spec.expect, "field": self.spec.field, "column": self.column,
            "on_failure": self.spec.on_failure, "success": self.success,
            "element_count": self.elements, "unexpected_count": self.unexpected,
            "observed_value": _plain(self.observed), "sample": self.sample, "errors": self.errors,
        }  # fmt: skip


def _bounds(spec: Expectation) -> str:
    low, high = ("-" if bound is None else bound for bound in (spec.min, spec.max))
    return f"between {low} and {high}"


def _plain(value: Any) -> Any:
    """A JSON-safe form of a value GX reports (numpy scalars, decimals, dates, NaN)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if value != value else value
    if isinstance(value, (decimal.Decimal, dt.date)):
        return str(value)
    if hasattr(value, "item"):
        return _plain(value.item())
    return str(value)


def validate(plan: ExportPlan, manifest: Manifest, *, log: logging.Logger | None = None) -> dict:
    """Check the export's expectations on its staged files; record the summary.

    The summary {passed, failed, warned, results, rows} goes to the log and into the
    manifest's validation field (rewritten atomically). failed and warned hold one line per
    expectation that did not hold; results hold counts and sample values for each.

    Args:
        plan: The run's plan; its export's expectations are checked.
        manifest: The manifest extract wrote to plan.staging_dir.
        log: Where the summary goes; the ferry.engine logger by default.

    Returns:
        The summary.

    Raises:
        ExpectationsFailed: an expectation with on_failure: fail did not hold.
    """
    log = log or LOG
    folder = Path(plan.staging_dir)
    checks = [
        Check(i, spec, _column_of(plan, spec)) for i, spec in enumerate(plan.export.expectations)
    ]
    if checks:
        with _gx_at_warning():
            _run_checks(checks, folder, manifest)
    summary = _summary(checks, manifest.rows)
    _log_summary(log, plan, checks, manifest.rows)
    dataclasses.replace(manifest, validation=summary).write(folder)
    if summary["failed"]:
        raise ExpectationsFailed(summary)
    return summary


@contextlib.contextmanager
def _gx_at_warning() -> Iterator[None]:
    """GX imported with its loggers at WARNING, kept there while validate runs.

    The parent logger quiets the import; some modules set INFO on their own logger at
    import (data_context.types.base), so those are raised too, and all restored after.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    parent = logging.getLogger(GX_LOGGER)
    saved = {parent: parent.level}
    parent.setLevel(max(parent.level, logging.WARNING))
    try:
        import great_expectations  # noqa: F401

        for name, logger in list(logging.root.manager.loggerDict.items()):
            own = isinstance(logger, logging.Logger) and logger.level
            if name.startswith(f"{GX_LOGGER}.") and own and logger.level < logging.WARNING:
                saved[logger] = logger.level
                logger.setLevel(logging.WARNING)
        yield
    finally:
        for logger, level in saved.items():
            logger.setLevel(level)


def _column_of(plan: ExportPlan, spec: Expectation) -> str | None:
    """The output column an expectation names (see ferry.spec.columns.column_for)."""
    column = column_for(plan.columns, spec.field) if spec.field is not None else None
    return column.name if column else None


def _with_values(batch: pa.RecordBatch, manifest: Manifest, name: str) -> pa.RecordBatch:
    """A changes-only export's rows but the removed ones, which carry only their key."""
    if manifest.changes is None:
        return batch
    if name.startswith("removed_"):  # output: files
        return batch.slice(0, 0)
    if CHANGE_COLUMN in batch.schema.names:
        return batch.filter(pc.not_equal(batch.column(CHANGE_COLUMN), "removed"))
    return batch


def _run_checks(checks: list[Check], folder: Path, manifest: Manifest) -> None:
    runner = _GxRunner(checks, manifest.format in _TEXT_FORMATS)
    uniques = [c for c in checks if c.spec.expect == "unique" and c.column]
    total = 0
    with _Duplicates([c.column for c in uniques]) as duplicates:
        for staged in (staged for staged in manifest.data_files if staged.rows):
            for batch in file_batches(folder / staged.name, manifest.format, manifest.schema):
                total += batch.num_rows
                batch = _with_values(batch, manifest, staged.name)
                runner.run_columns(batch.to_pandas())
                duplicates.add(batch)  # every batch: a file may hold many
        for check in uniques:
            check.unexpected, sample = duplicates.count(check.column)
            check.sample = check.sample or sample
            check.success = check.success and not check.unexpected
    runner.run_row_count(total)
    for check in checks:
        if check.spec.field is not None and check.column is None:
            check.errors.append(f"field {check.spec.field} is not in the export's output")
            check.success = False


def _summary(checks: list[Check], rows: int) -> dict:
    failed = [c.describe() for c in checks if not c.success and c.spec.on_failure == "fail"]
    warned = [c.describe() for c in checks if not c.success and c.spec.on_failure == "warn"]
    results = [c.as_dict() for c in checks]
    return {"passed": not failed, "failed": failed, "warned": warned, "results": results,
            "rows": rows}  # fmt: skip


def _log_summary(log: logging.Logger, plan: ExportPlan, checks: list[Check], rows: int) -> None:
    """One line for the run, then one per expectation: held, warning or failed."""
    run_id = plan.run.job_run_id
    held = sum(check.success for check in checks)
    log.info("validate %s: %d of %d expectations held on %s rows", run_id, held, len(checks),
             f"{rows:,}")  # fmt: skip
    for check in checks:
        if check.success:
            log.info("validate %s: held: %s", run_id, check.describe())
        elif check.spec.on_failure == "warn":
            log.warning("validate %s: warning: %s", run_id, check.describe())
        else:
            log.error("validate %s: failed: %s", run_id, check.describe())


class _GxRunner:
    """An ephemeral GX context with one suite for column checks and one for the row count."""

    def __init__(self, checks: list[Check], text_values: bool):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx, self._checks = gx, {check.index: check for check in checks}
        self._context = gx.get_context(mode="ephemeral")
        self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = self._context.data_sources.add_pandas("ferry").add_dataframe_asset("staged")
        self._batch = asset.add_batch_definition_whole_dataframe("batch")
        columns = [c for c in checks if c.column and c.spec.expect != "row_count_between"]
        tables = [c for c in checks if c.spec.expect == "row_count_between"]
        self._columns = self._definition("columns", columns, text_values)
        self._tables = self._definition("tables", tables, text_values)

    def _definition(self, name: str, checks: list[Check], text_values: bool):
        if not checks:
            return None
        suite = self._context.suites.add(self._gx.ExpectationSuite(name))
        for check in checks:
            suite.add_expectation(_gx_expectation(check, text_values))
        definition = self._gx.ValidationDefinition(name=name, data=self._batch, suite=suite)
        return self._context.validation_definitions.add(definition)

    def _run(self, definition, frame) -> None:
        outcome = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
        for result in outcome.results:
            self._checks[result.expectation_config.meta["ferry_index"]].add(result)

    def run_columns(self, frame) -> None:
        if self._columns is not None and len(frame):
            self._run(self._columns, frame)

    def run_row_count(self, rows: int) -> None:
        """The whole result's row count, from a frame with an index and no data."""
        if self._tables is not None:
            import pandas as pd

            self._run(self._tables, pd.DataFrame(index=pd.RangeIndex(rows)))


def _gx_expectation(check: Check, text_values: bool):
    import great_expectations.expectations as gxe

    spec, meta = check.spec, {"ferry_index": check.index}
    if spec.expect == "row_count_between":
        return gxe.ExpectTableRowCountToBeBetween(min_value=spec.min, max_value=spec.max, meta=meta)
    if spec.expect == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=check.column, meta=meta)
    if spec.expect == "unique":
        return gxe.ExpectColumnValuesToBeUnique(column=check.column, meta=meta)
    if spec.expect == "regex":
        return gxe.ExpectColumnValuesToMatchRegex(
            column=check.column, regex=spec.pattern, meta=meta
        )
    values = [_as_text(v) for v in spec.values] if text_values else list(spec.values)
    return gxe.ExpectColumnValuesToBeInSet(column=check.column, value_set=values, meta=meta)


def _as_text(value: Any) -> str:
    """A YAML value as CSV writes it, so value sets compare with the file's text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


class _Duplicates:
    """Counts values seen more than once across all batches, spilling to a temp DuckDB."""

    def __init__(self, columns: list[str]):
        self._columns = {name: f"u{i}" for i, name in enumerate(columns)}
        self._folder = tempfile.TemporaryDirectory(prefix="ferry-unique-")
        self._con = None

    def __enter__(self) -> _Duplicates:
        if self._columns:
            path = Path(self._folder.name) / "unique.duckdb"
            self._con = duckdb.connect(str(path), config={"memory_limit": "256MB", "threads": 1})
            for table in self._columns.values():
                self._con.execute(f"CREATE TABLE {table} (v VARCHAR)")
        return self

    def __exit__(self, *exc) -> None:
        if self._con is not None:
            self._con.close()
        self._folder.cleanup()

    def add(self, batch: pa.RecordBatch) -> None:
        for name, table in self._columns.items():
            self._con.register(
                "batch_values", pa.table({"v": batch.column(name).cast(pa.string())})
            )
            self._con.execute(f"INSERT INTO {table} SELECT v FROM batch_values")
            self._con.unregister("batch_values")

    def count(self, name: str) -> tuple[int, list]:
        """Rows whose (non-null) value appears more than once, and some such values."""
        groups = (
            f"SELECT v, count(*) AS n FROM {self._columns[name]} WHERE v IS NOT NULL GROUP BY v"
        )
        rows = self._con.sql(f"SELECT coalesce(sum(n), 0) FROM ({groups}) WHERE n > 1").fetchall()
        sample = self._con.sql(
            f"SELECT v FROM ({groups}) WHERE n > 1 ORDER BY n DESC, v LIMIT {SAMPLE_VALUES}"
        ).fetchall()
        return int(rows[0][0]), [value for (value,) in sample]
