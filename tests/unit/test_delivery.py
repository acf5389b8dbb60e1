"""deliver(): what it does around every sender, on the download destination (no server).

The registry and StagedRun's check are tested in delivery/test_base.py, each destination
against its real server in tests/integration/delivery/; here: the start and end lines a
run's log shows, and that a run whose files changed never reaches a sender.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ferry import paths
from ferry.delivery import StagedFileMismatch, deliver
from ferry.manifest import read_manifest
from unit.delivery.test_base import context, staged

LOG = logging.getLogger("ferry.test.deliver")


@pytest.fixture(autouse=True)
def ferry_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("FERRY_HOME", str(home))
    return home


def test_deliver_copies_the_run_byte_for_byte_and_logs_its_start_and_end(tmp_path, caplog):
    folder = tmp_path / "staging"
    run = staged(folder)
    destination = run.context.export.destinations[0]
    job = run.context.run.job_run_id

    with caplog.at_level(logging.INFO, logger=LOG.name):
        receipt = deliver(destination, folder, run.context, log=LOG)

    target = paths.downloads_dir() / "leads" / job
    assert target.is_relative_to(tmp_path / "home")
    for name in [f.name for f in run.manifest.files] + ["manifest.json"]:
        assert (target / name).read_bytes() == (folder / name).read_bytes(), name
    assert read_manifest(target) == run.manifest
    assert (receipt.destination, receipt.type, receipt.rows) == ("download", "download", 2)
    lines = [r.getMessage() for r in caplog.records if r.name == LOG.name]
    assert lines[0] == (
        f"Delivering run {job} of export leads to download destination 'download' (try 1): "
        "3 files, 2 rows"
    )
    assert lines[-1] == f"Delivered run {job} to 'download': 3 files, 2 rows, 0 rejects"


def test_a_file_changed_after_staging_stops_deliver_before_the_sender(tmp_path, caplog):
    folder = tmp_path / "staging"
    run = staged(folder)
    changed = folder / run.manifest.files[0].name
    changed.write_bytes(changed.read_bytes()[::-1])  # same size, other bytes

    with caplog.at_level(logging.INFO, logger=LOG.name), pytest.raises(StagedFileMismatch):
        deliver(run.context.export.destinations[0], folder, context(), log=LOG)

    assert not paths.downloads_dir().exists(), "nothing was delivered, not even a folder"
    assert "Delivered run" not in caplog.text
