"""What every destination shares: the registry of senders, the checked staged run, and
where a path template sends each file (pure: no server, no provider)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import typing
from pathlib import Path

import pytest

from ferry.delivery import SENDERS, DeliveryContext, StagedFileMismatch, StagedRun
from ferry.delivery.base import DeliveryError, left_by_earlier_try, plan_layout
from ferry.exceptions import kind_of
from ferry.manifest import Manifest, StagedFile
from ferry.run_info import RunInfo
from ferry.spec import destinations
from ferry.spec.models import ExportSpec

LOG = logging.getLogger("ferry.test.delivery")
RUN_ID = "scheduled__2024-05-01T00:00:00+00:00"


def context(run_id: str = RUN_ID) -> DeliveryContext:
    export = ExportSpec.model_validate(
        {"id": "leads", "name": "Leads", "source": {"table": "lead"},
         "destinations": [{"type": "download"}]}
    )  # fmt: skip
    run = RunInfo("leads", run_id, logical_date=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    values = {"ds": "2024-05-01", "ds_nodash": "20240501", "run_id": run_id}
    return DeliveryContext(export=export, run=run, template_vars=values)


def staged(
    folder: Path, run_id: str = RUN_ID, *, parts: int = 2, data: list[str] | None = None
) -> StagedRun:
    """A staged run of parts data files (or of the data files named), and schema.json."""
    folder.mkdir(parents=True, exist_ok=True)
    data = data or [f"leads_{n:05d}.csv.gz" for n in range(1, parts + 1)]
    names, rows = [*data, "schema.json"], len(data)
    files = []
    for name in names:
        data = name.encode()
        (folder / name).write_bytes(data)
        kind = "schema" if name == "schema.json" else "data"
        files.append(StagedFile(name, 1, len(data), hashlib.sha256(data).hexdigest(), kind))
    job_run_id = RunInfo("leads", run_id).job_run_id
    manifest = Manifest("leads", job_run_id, run_id, "csv", "gzip", files, [], [], rows=rows)
    manifest.write(folder)
    return StagedRun.checked(folder, manifest, context(run_id), LOG)


def test_every_destination_type_has_a_sender_taking_its_config_model_and_no_other():
    union = typing.get_args(typing.get_args(destinations.Destination)[0])
    by_type = {model.model_fields["type"].annotation.__args__[0]: model for model in union}
    assert {kind: sender.config for kind, sender in SENDERS.items()} == by_type


def test_a_sender_refuses_another_types_config():
    download = destinations.DownloadDestination(type="download")
    with pytest.raises(TypeError, match="S3Sender sends to S3Destination, not Download"):
        SENDERS["s3"](download)


def test_a_file_changed_without_changing_its_size_stops_the_delivery(tmp_path):
    run = staged(tmp_path)
    path = tmp_path / "leads_00001.csv.gz"
    path.write_bytes(path.read_bytes().upper())  # same size, other bytes
    with pytest.raises(StagedFileMismatch, match="does not match the manifest") as raised:
        StagedRun.checked(tmp_path, run.manifest, run.context, LOG)
    assert kind_of(raised.value) == "terminal"


def test_a_folder_template_sends_every_file_under_its_staged_name(tmp_path):
    run = staged(tmp_path)
    layout = plan_layout("exports/{{ export_id }}/{{ ds }}/", run, absolute=False)
    assert [item.target for item in layout.files] == [
        "exports/leads/2024-05-01/leads_00001.csv.gz",
        "exports/leads/2024-05-01/leads_00002.csv.gz",
        "exports/leads/2024-05-01/schema.json",
    ]
    assert layout.manifest_target == "exports/leads/2024-05-01/manifest.json"
    assert [f.name for f in layout.manifest.files] == [f.name for f in run.manifest.files]


def test_a_per_file_template_places_data_and_prefixes_sidecars_with_the_run(tmp_path):
    run = staged(tmp_path)
    layout = plan_layout("out/{{ ds_nodash }}/leads_{{ part }}.{{ ext }}", run, absolute=False)
    job = run.context.run.job_run_id
    assert [item.target for item in layout.files] == [
        "out/20240501/leads_00001.csv.gz",
        "out/20240501/leads_00002.csv.gz",
        f"out/20240501/{job}.schema.json",
    ]
    assert layout.manifest_target == f"out/20240501/{job}.manifest.json"
    assert [f.name for f in layout.manifest.files] == [
        "leads_00001.csv.gz", "leads_00002.csv.gz", f"{job}.schema.json",
    ]  # fmt: skip


CHUNKED = ["leads_2026-W04_00001.csv.gz", "leads_2026-W05_00001.csv.gz",
           "leads_2026-W05_00002.csv.gz", "leads_undated_00001.csv.gz"]  # fmt: skip


def test_the_part_of_a_chunk_by_file_carries_its_period(tmp_path):
    run = staged(tmp_path, data=CHUNKED)
    layout = plan_layout("out/{{ ds_nodash }}/export_{{ part }}.{{ ext }}", run, absolute=False)
    assert [item.target for item in layout.files][:-1] == [
        "out/20240501/export_2026-W04_00001.csv.gz",
        "out/20240501/export_2026-W05_00001.csv.gz",
        "out/20240501/export_2026-W05_00002.csv.gz",
        "out/20240501/export_undated_00001.csv.gz",
    ]
    by_file = plan_layout("out/{{ file }}", run, absolute=False)
    assert [item.target for item in by_file.files] == [f"out/{name}" for name in CHUNKED] + [
        "out/schema.json"
    ]


def test_the_part_of_a_changes_file_set_carries_its_kind(tmp_path):
    names = [f"{kind}_leads_{n:05d}.csv.gz" for kind in ("added", "changed", "removed")
             for n in (1, 2)]  # fmt: skip
    layout = plan_layout(
        "out/leads_{{ part }}.csv.gz", staged(tmp_path, data=names), absolute=False
    )
    assert [item.target for item in layout.files][:-1] == [
        f"out/leads_{kind}_{n:05d}.csv.gz"
        for kind in ("added", "changed", "removed")
        for n in (1, 2)
    ]


@pytest.mark.parametrize(
    ("run_id", "problem"), [("..", "would move up"), ("manual__/x", "would add a folder")]
)
def test_a_run_id_that_would_leave_the_destination_is_refused(tmp_path, run_id, problem):
    run = staged(tmp_path, run_id)
    with pytest.raises(DeliveryError) as raised:
        plan_layout("runs/{{ run_id }}/{{ part }}.csv", run, absolute=False)
    assert problem in str(raised.value) and "nothing is sent" in str(raised.value)
    assert raised.value.retryable is False


def test_an_earlier_try_of_the_same_run_leaves_only_what_this_try_does_not_replace(tmp_path):
    earlier = staged(tmp_path / "first", parts=3)
    again = staged(tmp_path / "second", parts=1)
    template = "exports/"
    before = plan_layout(template, earlier, absolute=False).manifest.to_json().encode()
    layout = plan_layout(template, again, absolute=False)
    assert left_by_earlier_try(before, layout) == [
        "exports/leads_00002.csv.gz", "exports/leads_00003.csv.gz",
    ]  # fmt: skip
    other_run = staged(tmp_path / "other", "scheduled__2024-04-30T00:00:00+00:00", parts=3)
    other = plan_layout(template, other_run, absolute=False).manifest.to_json().encode()
    assert left_by_earlier_try(other, layout) == [], "another run's files are never named"
    assert left_by_earlier_try(b"not json", layout) == []
