"""Download destination and retention of the download area."""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import pytest

from ferry import paths
from ferry.delivery import StagedFileMismatch, deliver, purge_downloads
from ferry.manifest import read_manifest

pytestmark = pytest.mark.integration


def _folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_download_copies_files_and_manifest_last(staging, context_for, same_bytes):
    folder, manifest = staging()
    context = context_for({"type": "download"})

    receipt = deliver(context.export.destinations[0], folder, context)

    target = paths.downloads_dir() / "lead_backup" / context.run.job_run_id
    same_bytes(_folder_bytes(target), manifest)
    assert read_manifest(target) == manifest
    assert receipt.destination == "download" and receipt.rows == manifest.rows == 5
    assert [f["name"] for f in receipt.files] == [f.name for f in manifest.files]
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]


def test_download_retry_replaces_and_never_duplicates(staging, context_for):
    folder, manifest = staging()
    context = context_for({"type": "download"})
    target = paths.downloads_dir() / "lead_backup" / context.run.job_run_id
    target.mkdir(parents=True, exist_ok=True)
    (target / "leftover_from_try_1.part").write_text("half")

    deliver(context.export.destinations[0], folder, context)
    deliver(context.export.destinations[0], folder, context_for({"type": "download"}, try_number=2))

    expected = sorted([f.name for f in manifest.files] + ["manifest.json"])
    assert sorted(p.name for p in target.iterdir()) == expected
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_changed_staged_file_is_refused_before_sending(staging, context_for):
    folder, manifest = staging()
    (folder / manifest.data_files[0].name).write_bytes(b"tampered")
    context = context_for({"type": "download"}, run_id="manual__tampered")

    with pytest.raises(StagedFileMismatch, match="does not match the manifest"):
        deliver(context.export.destinations[0], folder, context)
    assert not (paths.downloads_dir() / "lead_backup" / context.run.job_run_id).exists()


def test_a_staged_file_changed_without_changing_its_size_is_refused(staging, context_for):
    folder, manifest = staging()
    path = folder / manifest.data_files[0].name
    data = path.read_bytes()
    path.write_bytes(bytes([data[0] ^ 0xFF]) + data[1:])  # same size: only sha256 can tell
    context = context_for({"type": "download"}, run_id="manual__same_size")

    with pytest.raises(StagedFileMismatch, match=f"holds {len(data)} bytes with sha256"):
        deliver(context.export.destinations[0], folder, context)
    assert not (paths.downloads_dir() / "lead_backup" / context.run.job_run_id).exists()


def test_purge_deletes_by_each_exports_retention(tmp_path, caplog):
    now = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    folders = {
        ("short", "old"): 3, ("short", "new"): 1, ("other", "old"): 31, ("other", "new"): 29,
    }  # fmt: skip
    for (export, run), age_days in folders.items():
        run_dir = tmp_path / export / run
        run_dir.mkdir(parents=True)
        (run_dir / "manifest.json").write_text("{}")
        stamp = (now - dt.timedelta(days=age_days)).timestamp()
        os.utime(run_dir / "manifest.json", (stamp, stamp))
    outside = tmp_path.parent / "outside_keep"
    outside.mkdir(exist_ok=True)
    (tmp_path / "short" / "link").symlink_to(outside)

    with caplog.at_level("INFO", logger="ferry.delivery"):
        deleted = purge_downloads(tmp_path, {"short": 2}, now=now, default_days=30)

    assert deleted == [tmp_path / "other" / "old", tmp_path / "short" / "old"]
    assert sorted(p.name for p in (tmp_path / "short").iterdir()) == ["link", "new"]
    assert outside.exists()
    assert all(str(path) in caplog.text for path in deleted)


def test_concurrent_writers_of_one_run_leave_one_whole_copy(staging, context_for, same_bytes):
    folder, manifest = staging()
    context = context_for({"type": "download"}, run_id="manual__concurrent")
    errors = []

    def write() -> None:
        try:
            for _ in range(10):
                deliver(context.export.destinations[0], folder, context)
        except Exception as error:
            errors.append(error)

    writers = [threading.Thread(target=write) for _ in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    target = paths.downloads_dir() / "lead_backup" / context.run.job_run_id
    assert errors == []
    same_bytes(_folder_bytes(target), manifest)
    assert [p.name for p in target.parent.iterdir() if "concurrent" in p.name] == [target.name]


def test_run_ids_the_old_sanitiser_folded_together_get_separate_folders(staging, context_for):
    folder, manifest = staging()
    first_id = "manual__2026-11-20T00:00:00+00:00"
    targets = []
    for run_id in (first_id, first_id + "~", ".."):
        context = context_for({"type": "download"}, run_id=run_id)
        receipt = deliver(context.export.destinations[0], folder, context)
        targets.append(Path(receipt.detail["folder"]))

    assert len(set(targets)) == 3
    assert all(t.parent == paths.downloads_dir() / "lead_backup" for t in targets)
    assert all(read_manifest(t) == manifest for t in targets)
