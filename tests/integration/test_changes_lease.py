"""Two runs of one changes-only export at once (its own DAG's and a group's): the second
waits for the first, so receivers get the changes in order, locally and with the state
on S3 (moto)."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator

import pytest

from changes_runs import make_home, profile_line, profiles, run
from cli_runner import run_ferry
from ferry import changes_lease, paths, pipeline
from ferry.changes_state import StateStore
from ferry.cli.local import run_one
from ferry.exceptions import ExportSkipped, kind_of
from ferry.manifest import read_manifest
from ferry.pii_key import read_pii_key
from ferry.pipeline import Kind
from ferry.record import Ending
from ferry.run_info import RunInfo
from servers import MotoS3, running

pytestmark = pytest.mark.integration
BUCKET, PREFIX, CONN_ID = "ferry-lease-test", "runs", "ferry_lease_s3"
LOG = logging.getLogger("test.changes_lease")


@pytest.fixture(params=["local", "s3"])
def home(request, tmp_path, monkeypatch, warehouse) -> Iterator:
    made = make_home(tmp_path, monkeypatch, warehouse)
    if request.param == "local":
        yield made
        return
    with running(MotoS3()) as s3:
        s3.client().create_bucket(Bucket=BUCKET)
        monkeypatch.setenv(*s3.connection(CONN_ID))
        monkeypatch.setenv("FERRY_STAGING", f"s3://{CONN_ID}@{BUCKET}/{PREFIX}")
        yield made


def walk(run_info: RunInfo, before_finalize: Callable[[], None]) -> None:
    """The run's steps, as `ferry run --local` takes them, with something done in between."""
    receipts: list[dict] = []
    for step in pipeline.export_steps(pipeline.plan_for(run_info).export):
        if step.kind is Kind.PLAN:
            pipeline.run_step(step.task_id, run_info, log=LOG, pii_key=read_pii_key)
        elif step.kind is Kind.DELIVER:
            receipts.append(step.call(run_info, step.destination, run_info.template_vars(), 1,
                                      log=LOG))  # fmt: skip
        elif step.kind is Kind.FINALIZE:
            before_finalize()
            step.call(run_info, receipts, Ending(), log=LOG)


def extract(run_info: RunInfo) -> None:
    pipeline.run_step("extract", run_info, log=LOG, pii_key=read_pii_key)


def sent(run_info: RunInfo) -> list[list[str]]:
    """The rows of the run's delivered CSV files (the download destination's folder)."""
    folder = paths.downloads_dir() / run_info.export_id / run_info.job_run_id
    rows: list[list[str]] = []
    for staged in read_manifest(folder).data_files:
        with (folder / staged.name).open(newline="", encoding="utf-8") as stream:
            rows += list(csv.reader(stream))[1:]
    return rows


def set_city(home, profile_id: int, city: str) -> None:
    home.sql(f"UPDATE customer_profile SET city = '{city}' WHERE profile_id = {profile_id}")


def test_a_second_run_waits_for_the_first_then_diffs_against_its_state(home):
    export = home.define("profile_changes")
    assert run(export, "manual__0") == 0
    one, two = [row[0] for row in profiles(home)][:2]
    own = RunInfo(export, "manual__1", triggered_by="test")  # the export's own DAG
    grouped = RunInfo(export, "manual__1", triggered_by="test", group_id="nightly")
    refusals: list[Exception] = []

    def the_group_tries() -> None:
        with pytest.raises(changes_lease.LeaseHeld) as refused:
            extract(grouped)
        refusals.append(refused.value)

    set_city(home, one, "First")
    walk(own, the_group_tries)  # extracted, delivered, and not yet finalized: refused
    [refusal] = refusals
    assert kind_of(refusal) == "transient"  # Airflow retries the group's extract
    assert f"being run by {own.job_run_id}" in str(refusal)
    assert StateStore(export).base_for(own.safe_run_id).run == "manual__0"
    assert sent(own) == [profile_line(profiles(home, f"profile_id = {one}")[0], "changed")]

    set_city(home, two, "Second")
    assert run_one(grouped, as_json=True) == 0  # the retry, after the first run committed
    assert sent(grouped) == [profile_line(profiles(home, f"profile_id = {two}")[0], "changed")]
    assert StateStore(export).head().run == grouped.safe_run_id


def test_a_run_that_ends_failed_or_skipped_lets_the_next_one_go(home):
    export = home.define("profile_changes")
    first = RunInfo(export, "manual__1", triggered_by="test")
    extract(first)
    pipeline.finalize_failed(first, "deliver_download failed: down", Ending(), log=LOG)
    second = RunInfo(export, "manual__2", triggered_by="test")
    extract(second)  # not refused

    home.define("profile_changes", extra="limits: {max_rows: 1}\n")
    with pytest.raises(ExportSkipped):  # over the limit: extract ends the run
        extract(second)
    assert changes_lease.holder(StateStore(export).files, export).run is None
    home.define("profile_changes")
    assert run(export, "manual__3") == 0


def test_a_failed_run_retried_takes_its_own_lease_again(home):
    export = home.define("profile_changes")
    first = RunInfo(export, "manual__1", triggered_by="test")
    extract(first)
    extract(first)  # extract's retry (a worker lost after it took the lease)
    assert run_one(first, as_json=True) == 0  # the whole run again: a rerun
    assert len(sent(first)) == len(profiles(home))  # every row, as added, against no state
    assert changes_lease.holder(StateStore(export).files, export).run is None


def test_on_s3_a_take_overtaken_between_its_read_and_write_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    with running(MotoS3()) as s3:
        s3.client().create_bucket(Bucket=BUCKET)
        monkeypatch.setenv(*s3.connection(CONN_ID))
        monkeypatch.setenv("FERRY_STAGING", f"s3://{CONN_ID}@{BUCKET}/{PREFIX}")
        worker_a, worker_b = StateStore("lead_changes"), StateStore("lead_changes")
        reads: list[str] = []

        def key_of(params, **_):
            reads.append(params["Key"])

        def after_read(**_):  # run_b takes the lease right after run_a found none
            if reads[-1].endswith("/lease.json") and "done" not in reads:
                reads.append("done")
                changes_lease.take(worker_b.files, "lead_changes", "run_b", "lead_changes.run_b")

        events = worker_a.files.bucket.client.meta.events
        events.register("provide-client-params.s3.GetObject", key_of)
        events.register("after-call.s3.GetObject", after_read)
        with pytest.raises(changes_lease.LeaseHeld, match=r"being run by lead_changes\.run_b"):
            changes_lease.take(worker_a.files, "lead_changes", "run_a", "lead_changes.run_a")
        assert "done" in reads
        assert changes_lease.holder(worker_b.files, "lead_changes").run == "run_b"


def test_reset_lease_frees_a_run_marked_failed_by_hand_so_the_next_goes(home):
    export = home.define("profile_changes")
    stuck = RunInfo(export, "manual__1", triggered_by="test")
    extract(stuck)  # then marked failed in the Airflow UI: no callback releases its lease
    with pytest.raises(changes_lease.LeaseHeld):
        extract(RunInfo(export, "manual__2", triggered_by="test"))

    result = run_ferry("reset", "--lease", export)

    assert result.code == 0, result.err
    assert f"held by run {stuck.job_run_id}" in result.out
    assert run(export, "manual__2") == 0


def test_each_delivery_renews_the_runs_lease(home):
    export = home.define("profile_changes")
    first = RunInfo(export, "manual__1", triggered_by="test")
    steps = pipeline.export_steps(pipeline.plan_for(first).export)
    for step in (s for s in steps if s.kind is Kind.PLAN):
        pipeline.run_step(step.task_id, first, log=LOG, pii_key=read_pii_key)
    files = StateStore(export).files
    extracted = changes_lease.holder(files, export)
    [delivery] = [s for s in steps if s.kind is Kind.DELIVER]
    delivery.call(first, delivery.destination, first.template_vars(), 1, log=LOG)
    renewed = changes_lease.holder(files, export)
    assert renewed.run == "manual__1" and renewed.expires_at > extracted.expires_at
