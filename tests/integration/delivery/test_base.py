"""What every destination shares (ferry.delivery.base): the staged run is checked first.

A staged file edited after extract without changing its size (a byte flipped on disk, an
object overwritten in a bucket) is told apart only by its sha256; every destination must
refuse it before anything reaches the other side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from ferry import paths
from ferry.delivery import StagedFileMismatch, deliver

pytestmark = pytest.mark.integration


def _download(request: pytest.FixtureRequest, connect) -> tuple[dict, Callable[[], bool]]:
    def arrived() -> bool:
        return (paths.downloads_dir() / "lead_backup").exists()

    return {"type": "download"}, arrived


def _s3(request: pytest.FixtureRequest, connect) -> tuple[dict, Callable[[], bool]]:
    server = request.getfixturevalue("s3_server")
    connect(server.connection("s3_same_size"))
    client = server.client()
    client.create_bucket(Bucket="ferry-same-size")
    destination = {"type": "s3", "connection": "s3_same_size", "bucket": "ferry-same-size",
                   "path": "exports/"}  # fmt: skip
    return destination, lambda: "Contents" in client.list_objects_v2(Bucket="ferry-same-size")


def _sftp(request: pytest.FixtureRequest, connect) -> tuple[dict, Callable[[], bool]]:
    server = request.getfixturevalue("sftp_server")
    connect(server.connection("sftp_same_size"))
    destination = {"type": "sftp", "connection": "sftp_same_size", "path": f"{server.root}/in/"}
    return destination, lambda: any(server.root.iterdir())


def _email(request: pytest.FixtureRequest, connect) -> tuple[dict, Callable[[], bool]]:
    server = request.getfixturevalue("smtp_server")
    connect(server.connection("smtp_same_size"))
    destination = {"type": "email", "connection": "smtp_same_size", "to": ["a@example.com"]}
    return destination, lambda: bool(server.messages)


def _webhook(request: pytest.FixtureRequest, connect) -> tuple[dict, Callable[[], bool]]:
    server = request.getfixturevalue("webhook_server")
    return {"type": "webhook", "connection": "webhook_test", "endpoint": "in"}, lambda: bool(
        server.requests
    )


@pytest.mark.parametrize("destination_of", [_download, _s3, _sftp, _email, _webhook])
def test_a_staged_file_changed_without_changing_its_size_reaches_no_destination(
    request, connect, staging, context_for, destination_of
):
    destination, arrived = destination_of(request, connect)
    folder, manifest = staging(compression="none")
    staged = manifest.data_files[0]
    path = folder / staged.name
    data = path.read_bytes()
    changed = data.replace(b"Paulo", b"Pablo", 1)  # still valid CSV, same size
    assert changed != data and len(changed) == len(data)
    path.write_bytes(changed)
    context = context_for(destination, run_id="manual__same_size")

    with pytest.raises(StagedFileMismatch) as refused:
        deliver(context.export.destinations[0], folder, context)

    assert (
        f"it holds {staged.bytes} bytes with sha256 {hashlib.sha256(changed).hexdigest()}, "
        f"the manifest says {staged.bytes} bytes with sha256 {staged.sha256}"
    ) in str(refused.value)
    assert staged.name in str(refused.value)
    assert not arrived(), "nothing is sent"
