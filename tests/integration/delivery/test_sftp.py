"""SFTP destination against Debian's OpenSSH sshd with a test user and key."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pytest

from ferry.delivery import DeliveryError, deliver
from ferry.manifest import read_manifest

pytestmark = pytest.mark.integration


def _on_every_put(monkeypatch: pytest.MonkeyPatch, change=None, then=None) -> None:
    """For every file paramiko puts: send change(remote_path, data) instead of the data, and
    call then(remote_path) once the put returned (the upload is complete, nothing renamed)."""
    import paramiko

    original = paramiko.SFTPClient.putfo

    def putfo(self, fl, remotepath, file_size=0, callback=None, confirm=True):
        data = fl.read()
        data = change(remotepath, data) if change else data
        done = original(self, io.BytesIO(data), remotepath, len(data), callback, confirm)
        if then:
            then(remotepath)
        return done

    monkeypatch.setattr(paramiko.SFTPClient, "putfo", putfo)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_upload_renames_parts_and_rerun_replaces(
    sftp_server, connect, staging, context_for, same_bytes
):
    connect(sftp_server.connection("sftp_main"))
    folder, manifest = staging(fmt="tsv")
    destination = {"type": "sftp", "connection": "sftp_main",
                   "path": f"{sftp_server.root}/in/{{{{ export_id }}}}/{{{{ ds }}}}/"}  # fmt: skip
    context = context_for(destination)

    receipt = deliver(context.export.destinations[0], folder, context)
    deliver(context.export.destinations[0], folder, context_for(destination, try_number=2))

    delivered = sftp_server.root / "in" / "lead_backup" / "2024-05-01"
    tree = _tree(delivered)
    assert sorted(tree) == sorted([f.name for f in manifest.files] + ["manifest.json"])
    same_bytes(tree, manifest)
    assert read_manifest(delivered) == manifest
    assert delivered.stat().st_uid == sftp_server.user.pw_uid
    _assert_all_sessions_closed(sftp_server)
    assert (
        receipt.files[0]["location"]
        == f"sftp://127.0.0.1:{sftp_server.port}{delivered}/{manifest.files[0].name}"
    )


def _assert_all_sessions_closed(server) -> None:
    deadline = time.monotonic() + 5
    while server.sessions():
        assert time.monotonic() < deadline, f"sshd sessions still open: {server.sessions()}"
        time.sleep(0.05)


def test_unknown_host_key_is_refused_without_retries(
    sftp_server, connect, staging, context_for, caplog
):
    connect(sftp_server.connection("sftp_nokey", host_key=None))
    folder, _ = staging()
    destination = {"type": "sftp", "connection": "sftp_nokey", "path": f"{sftp_server.root}/x/"}
    context = context_for(destination)

    with pytest.raises(DeliveryError, match=rf"127.0.0.1:{sftp_server.port}.*host_key"):
        deliver(context.export.destinations[0], folder, context)
    assert "retrying" not in caplog.text
    assert not any(sftp_server.root.iterdir())


def test_server_down_at_start_retries_then_names_the_host(
    sftp_server, connect, staging, context_for, caplog
):
    sftp_server.stop()
    connect(sftp_server.connection("sftp_down"))
    folder, _ = staging()
    destination = {"type": "sftp", "connection": "sftp_down", "path": f"{sftp_server.root}/x/"}
    context = context_for(destination)

    with pytest.raises(
        DeliveryError, match=rf"sftp destination 'sftp'.*127.0.0.1:{sftp_server.port}"
    ):
        deliver(context.export.destinations[0], folder, context)
    assert caplog.text.count("retrying in") == 2


def test_cut_mid_upload_leaves_no_partial_file_and_retry_completes(
    sftp_server, connect, staging, context_for, same_bytes
):
    connect(sftp_server.connection("sftp_cut"))
    folder, manifest = staging(big_file_bytes=64 * 1024 * 1024)
    big = next(f for f in manifest.files if f.name.endswith(".bin"))
    destination = {"type": "sftp", "connection": "sftp_cut", "path": f"{sftp_server.root}/drop/"}
    delivered = sftp_server.root / "drop"
    errors: list[BaseException] = []

    def first_try() -> None:
        context = context_for(destination)
        try:
            deliver(context.export.destinations[0], folder, context)
        except BaseException as error:
            errors.append(error)

    upload = threading.Thread(target=first_try)
    upload.start()
    part = delivered / f"{big.name}.part"
    deadline = time.monotonic() + 30
    while not (part.exists() and 8 * 1024 * 1024 <= part.stat().st_size < big.bytes // 2):
        assert time.monotonic() < deadline and upload.is_alive(), "the upload never got going"
        time.sleep(0.002)
    cut_at = part.stat().st_size
    sftp_server.cut()
    upload.join(30)

    assert len(errors) == 1 and isinstance(errors[0], DeliveryError)
    assert str(sftp_server.port) in str(errors[0])
    assert not (delivered / big.name).exists(), "a half file reached the final name"
    assert not (delivered / "manifest.json").exists()
    print(f"cut after {cut_at} of {big.bytes} bytes")

    sftp_server.start()
    context = context_for(destination, try_number=2)
    deliver(context.export.destinations[0], folder, context)

    tree = _tree(delivered)
    assert sorted(tree) == sorted([f.name for f in manifest.files] + ["manifest.json"])
    same_bytes(tree, manifest)


def test_file_template_creates_folders_on_demand(
    sftp_server, connect, staging, context_for, same_bytes
):
    connect(sftp_server.connection("sftp_deep"))
    folder, manifest = staging(fmt="jsonl", compression="none")
    template = f"{sftp_server.root}/a/b/" + "{{ ds_nodash }}/ferry_{{ file }}"
    destination = {"type": "sftp", "connection": "sftp_deep", "path": template}
    context = context_for(destination)

    deliver(context.export.destinations[0], folder, context)

    delivered = sftp_server.root / "a" / "b" / "20240501"
    tree = _tree(delivered)
    names = sorted([f"ferry_{f.name}" for f in manifest.files] + ["ferry_manifest.json"])
    assert sorted(tree) == names
    same_bytes({name.removeprefix("ferry_"): data for name, data in tree.items()}, manifest)
    listed = json.loads(tree["ferry_manifest.json"])["files"]  # names as delivered
    assert [f["name"] for f in listed] == [f"ferry_{f.name}" for f in manifest.files]


def test_a_retry_that_staged_fewer_files_leaves_none_of_the_earlier_extras(
    sftp_server, connect, staging, context_for, same_bytes
):
    connect(sftp_server.connection("sftp_rerun"))
    destination = {"type": "sftp", "connection": "sftp_rerun",
                   "path": f"{sftp_server.root}/in/{{{{ ds }}}}/"}  # fmt: skip
    folder, _ = staging(rows_per_file=2)
    deliver(context_for(destination).export.destinations[0], folder, context_for(destination))
    delivered = sftp_server.root / "in" / "2024-05-01"
    assert len([name for name in _tree(delivered) if name.endswith(".csv.gz")]) == 3

    folder, one_file = staging(rows_per_file=5)
    retry = context_for(destination, try_number=2)
    deliver(retry.export.destinations[0], folder, retry)

    tree = _tree(delivered)
    assert sorted(tree) == sorted([f.name for f in one_file.files] + ["manifest.json"])
    same_bytes(tree, one_file)
    _assert_all_sessions_closed(sftp_server)


def test_a_short_upload_is_never_renamed_into_place(
    sftp_server, connect, monkeypatch, staging, context_for
):
    """The server ends up holding fewer bytes than the manifest names (the source read short:
    paramiko's own check compares with what it read, so only Ferry's size check can tell)."""
    connect(sftp_server.connection("sftp_short"))
    folder, manifest = staging()
    short = manifest.data_files[1]
    destination = {"type": "sftp", "connection": "sftp_short", "path": f"{sftp_server.root}/in/"}
    context = context_for(destination)
    cut = lambda path, data: data[:-16] if path.endswith(f"/{short.name}.part") else data  # noqa: E731
    _on_every_put(monkeypatch, change=cut)

    with pytest.raises(DeliveryError) as failure:
        deliver(context.export.destinations[0], folder, context)

    assert f"{short.name}.part has {short.bytes - 16} bytes on the server, expected " in str(
        failure.value
    )
    delivered = sftp_server.root / "in"
    assert not (delivered / short.name).exists(), "a short file reached the final name"
    assert not (delivered / "manifest.json").exists()
    assert (delivered / f"{short.name}.part").stat().st_size == short.bytes - 16


def test_each_file_takes_its_final_name_only_once_whole_and_the_manifest_last(
    sftp_server, connect, monkeypatch, staging, context_for, same_bytes
):
    """What the server's disk holds each time an upload completes, before Ferry renames it."""
    connect(sftp_server.connection("sftp_part"))
    folder, manifest = staging()
    delivered = sftp_server.root / "in"
    destination = {"type": "sftp", "connection": "sftp_part", "path": f"{delivered}/"}
    context = context_for(destination)
    seen: list[tuple[str, dict[str, bytes]]] = []

    _on_every_put(monkeypatch, then=lambda path: seen.append((path, _tree(delivered))))
    deliver(context.export.destinations[0], folder, context)

    names = [f.name for f in manifest.files] + ["manifest.json"]
    assert [path for path, _ in seen] == [f"{delivered}/{name}.part" for name in names]
    for (_, uploaded), name in zip(seen, names, strict=True):
        assert name not in uploaded, f"{name} existed before Ferry checked its upload"
        assert uploaded[f"{name}.part"] == (folder / name).read_bytes() or name == "manifest.json"
        assert "manifest.json" not in uploaded
    same_bytes(seen[-1][1], manifest)  # every file whole under its name before the manifest
    assert sorted(_tree(delivered)) == sorted(names)
