"""validate: GX expectations on staged files, fail or warn as the export says."""

from __future__ import annotations

import functools
import importlib
import logging

import pytest

from ferry.engine import ExpectationsFailed, extract, validate
from ferry.engine.staged import file_batches
from ferry.manifest import read_manifest

from .helpers import ROWS, warehouse_rows

validate_module = importlib.import_module("ferry.engine.validate")  # the package exports validate()


def staged(make_plan, warehouse, expectations, fmt=None, **overrides):
    fmt = fmt or {"type": "csv", "compression": "gzip", "rows_per_file": 70}
    plan = make_plan(expectations=expectations, format=fmt, **overrides)
    return plan, extract(plan, source=warehouse, pii_key=None)


@pytest.mark.parametrize(
    "fmt",
    [{"type": "csv", "compression": "gzip", "rows_per_file": 70},
     {"type": "tsv", "compression": "zip", "rows_per_file": 70},
     {"type": "jsonl", "rows_per_file": 70}, {"type": "json", "rows_per_file": 70},
     {"type": "parquet", "rows_per_file": 70}],
)  # fmt: skip
def test_expectations_that_hold_pass_and_are_recorded(make_plan, warehouse, fmt):
    expectations = [
        {"expect": "not_null", "field": "profile_id"},
        {"expect": "unique", "field": "postal_code"},
        {"expect": "regex", "field": "postal_code", "pattern": "^[0-9]{5}$"},
        {"expect": "value_set", "field": "country", "values": ["US", "DE"]},
        {"expect": "value_set", "field": "sms_consent", "values": [True, False]},
        {"expect": "row_count_between", "min": ROWS, "max": ROWS},
    ]
    plan, manifest = staged(make_plan, warehouse, expectations, fmt)
    summary = validate(plan, manifest)
    assert summary["passed"] and not summary["failed"] and not summary["warned"]
    assert [r["success"] for r in summary["results"]] == [True] * len(expectations)
    assert summary["results"][0]["element_count"] == ROWS
    assert read_manifest(plan.staging_dir).validation == summary


def test_failing_expectation_fails_with_counts(make_plan, warehouse):
    expectations = [{"expect": "not_null", "field": "state"},
                    {"expect": "row_count_between", "max": 10}]  # fmt: skip
    plan, manifest = staged(make_plan, warehouse, expectations)
    with pytest.raises(ExpectationsFailed) as failure:
        validate(plan, manifest)
    nulls = sum(row[0] is None for row in warehouse_rows(warehouse, make_plan(fields=["state"])))
    summary = failure.value.summary
    assert summary["results"][0]["unexpected_count"] == nulls > 0
    assert summary["results"][1]["observed_value"] == ROWS
    assert len(summary["failed"]) == 2
    assert read_manifest(plan.staging_dir).validation["passed"] is False


def test_warning_expectation_only_warns(make_plan, warehouse, caplog):
    expectations = [{"expect": "value_set", "field": "loyalty_tier", "values": ["gold"],
                     "on_failure": "warn"}]  # fmt: skip
    plan, manifest = staged(make_plan, warehouse, expectations)
    summary = validate(plan, manifest)
    assert summary["passed"] and len(summary["warned"]) == 1
    assert set(summary["results"][0]["sample"]) <= {"silver", "platinum"}
    assert "warning: value_set on loyalty_tier" in caplog.text


def test_duplicates_across_files_are_found(make_plan, warehouse):
    expectations = [{"expect": "unique", "field": "state"}]
    plan, manifest = staged(make_plan, warehouse, expectations,
                            {"type": "csv", "rows_per_file": 2})  # fmt: skip
    with pytest.raises(ExpectationsFailed) as failure:
        validate(plan, manifest)
    states = [row[0] for row in warehouse_rows(warehouse, make_plan(fields=["state"]))]
    result = failure.value.summary["results"][0]
    assert result["unexpected_count"] == sum(state is not None for state in states)
    assert set(result["sample"]) == {"TX", "CA", "NY"}


def test_duplicates_in_any_batch_of_one_file_are_found(make_plan, warehouse, monkeypatch):
    # a file larger than one read batch (100,000 rows), made small: 2-row batches
    monkeypatch.setattr(
        validate_module, "file_batches", functools.partial(file_batches, batch_rows=2)
    )
    expectations = [{"expect": "unique", "field": "state"}]
    plan, manifest = staged(make_plan, warehouse, expectations, {"type": "parquet"})
    assert len(manifest.data_files) == 1
    with pytest.raises(ExpectationsFailed) as failure:
        validate(plan, manifest)
    states = [row[0] for row in warehouse_rows(warehouse, make_plan(fields=["state"]))]
    result = failure.value.summary["results"][0]
    assert result["unexpected_count"] == sum(state is not None for state in states)


def test_expectations_name_output_or_source_fields(make_plan, warehouse):
    expectations = [{"expect": "not_null", "field": "City"},
                    {"expect": "not_null", "field": "profile_id"},
                    {"expect": "not_null", "field": "email"}]  # fmt: skip
    fields = [{"field": "profile_id", "as": "Id"}, {"field": "city", "as": "City"}]
    plan, manifest = staged(make_plan, warehouse, expectations, fields=fields)
    with pytest.raises(ExpectationsFailed) as failure:
        validate(plan, manifest)
    results = failure.value.summary["results"]
    assert [r["column"] for r in results] == ["City", "Id", None]
    assert results[1]["success"] is True
    assert "email is not in the export's output" in failure.value.summary["failed"][-1]


def test_the_log_has_one_ferry_line_per_expectation_and_no_gx_chatter(make_plan, warehouse, caplog):
    expectations = [
        {"expect": "not_null", "field": "profile_id"},
        {"expect": "value_set", "field": "loyalty_tier", "values": ["gold"], "on_failure": "warn"},
        {"expect": "row_count_between", "min": 0, "max": 0},
    ]
    plan, manifest = staged(make_plan, warehouse, expectations)
    caplog.set_level(logging.DEBUG)
    caplog.clear()

    with pytest.raises(ExpectationsFailed):
        validate(plan, manifest)

    gx = [r for r in caplog.records if r.name.startswith("great_expectations")]
    assert [r.getMessage() for r in gx if r.levelno < logging.WARNING] == []
    run_id = plan.run.job_run_id
    ferry = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "ferry.engine"]
    assert ferry == [
        ("INFO", f"validate {run_id}: 1 of 3 expectations held on {ROWS} rows"),
        ("INFO", f"validate {run_id}: held: not_null on profile_id: 0 of {ROWS} unexpected"),
        ("WARNING", ferry[2][1]),
        ("ERROR", f"validate {run_id}: failed: row_count_between: {ROWS} rows, "
                  "expected between 0 and 0"),
    ]  # fmt: skip
    assert ferry[2][1].startswith(f"validate {run_id}: warning: value_set on loyalty_tier: ")
