"""The manifest checks a folder against its entries: name, presence, size and sha256."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ferry.exceptions import kind_of
from ferry.manifest import FileMismatch, Manifest, StagedFile, read_manifest, sha256_of


def _stage(folder: Path, files: dict[str, bytes]) -> Manifest:
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        entries.append(StagedFile(name, 1, len(data), hashlib.sha256(data).hexdigest()))
    manifest = Manifest("leads", "leads.r1", "r1", "csv", "none", entries, [], [], rows=2)
    manifest.write(folder)
    return manifest


def test_a_folder_holding_the_named_bytes_verifies_with_each_path(tmp_path):
    manifest = _stage(tmp_path, {"leads_00001.csv": b"id\n1\n", "schema.json": b"[]"})
    assert read_manifest(tmp_path) == manifest
    assert manifest.verify(tmp_path) == [
        (manifest.files[0], tmp_path / "leads_00001.csv"),
        (manifest.files[1], tmp_path / "schema.json"),
    ]


def test_a_file_changed_without_changing_its_size_is_caught_by_its_sha256(tmp_path):
    manifest = _stage(tmp_path, {"leads_00001.csv": b"id\n1\n"})
    (tmp_path / "leads_00001.csv").write_bytes(b"id\n7\n")  # same 5 bytes

    with pytest.raises(FileMismatch) as raised:
        manifest.verify(tmp_path)

    entry = manifest.files[0]
    assert raised.value.problem == "changed"
    assert raised.value.found == (5, hashlib.sha256(b"id\n7\n").hexdigest())
    assert str(raised.value) == (
        f"staged file {tmp_path / 'leads_00001.csv'} does not match the manifest: it holds 5 "
        f"bytes with sha256 {raised.value.found[1]}, the manifest says 5 bytes with sha256 "
        f"{entry.sha256}; it changed after extract: rerun the extract"
    )
    assert kind_of(raised.value) == "terminal"


def test_a_file_of_another_size_is_caught(tmp_path):
    manifest = _stage(tmp_path, {"leads_00001.csv": b"id\n1\n"})
    (tmp_path / "leads_00001.csv").write_bytes(b"id\n1\n2\n")
    with pytest.raises(FileMismatch, match=r"holds 7 bytes with sha256 \w+, the manifest says 5"):
        manifest.verify(tmp_path)


def test_a_missing_file_is_named(tmp_path):
    manifest = _stage(tmp_path, {"leads_00001.csv": b"id\n1\n"})
    (tmp_path / "leads_00001.csv").unlink()
    with pytest.raises(FileMismatch) as raised:
        manifest.verify(tmp_path)
    assert raised.value.problem == "missing"
    assert str(raised.value) == f"staged file {tmp_path / 'leads_00001.csv'} is missing"


@pytest.mark.parametrize("name", ["../outside.csv", "a/b.csv", "..", ".", "", "/etc/passwd"])
def test_an_entry_naming_a_file_outside_the_folder_is_refused_before_any_read(tmp_path, name):
    manifest = _stage(tmp_path / "run", {"leads_00001.csv": b"id\n1\n"})
    (tmp_path / "outside.csv").write_bytes(b"id\n1\n")
    planted = Manifest.from_dict(
        {**manifest.__dict__, "files": [{**manifest.files[0].__dict__, "name": name}]}
    )
    with pytest.raises(FileMismatch) as raised:
        planted.verify(tmp_path / "run")
    assert raised.value.problem == "outside" and raised.value.path is None
    assert str(raised.value) == f"the manifest names a file outside the run: {name!r}"
    with pytest.raises(FileMismatch):
        planted.check_names()


def test_a_mismatch_is_described_where_the_reader_knows_the_files(tmp_path):
    manifest = _stage(tmp_path, {"x.csv": b"abc"})
    (tmp_path / "x.csv").write_bytes(b"abd")
    problem = manifest.files[0].mismatch(tmp_path / "x.csv")
    assert problem is not None
    text = problem.describe("s3://b/run/x.csv", "s3://b/run/manifest.json")
    assert text.startswith("staged file s3://b/run/x.csv does not match s3://b/run/manifest.json")
    assert manifest.files[0].mismatch(tmp_path / "manifest.json") is not None
    (tmp_path / "x.csv").write_bytes(b"abc")
    assert manifest.files[0].mismatch(tmp_path / "x.csv") is None
    assert sha256_of(tmp_path / "x.csv") == manifest.files[0].sha256


MIB = 1 << 20


@pytest.mark.parametrize(
    "size", [0, 1, MIB - 1, MIB, MIB + 1, 3 * MIB + 7], ids=lambda size: f"{size}_bytes"
)
def test_a_files_sha256_is_that_of_all_its_bytes_across_read_blocks(tmp_path, size):
    """Files are hashed in blocks; a block dropped or restarted shows only past the first."""
    path = tmp_path / "leads_00001.bin"
    path.write_bytes(bytes(range(256)) * (size // 256) + b"\x07" * (size % 256))

    assert sha256_of(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_large_file_changed_past_its_first_block_is_caught(tmp_path):
    data = bytes(range(256)) * (5 * MIB // 256)
    manifest = _stage(tmp_path, {"big.bin": data})
    changed = data[:-1] + bytes([data[-1] ^ 1])  # the last byte of the last block
    (tmp_path / "big.bin").write_bytes(changed)

    with pytest.raises(FileMismatch) as raised:
        manifest.verify(tmp_path)
    assert raised.value.found == (len(data), hashlib.sha256(changed).hexdigest())
    (tmp_path / "big.bin").write_bytes(data)
    assert manifest.verify(tmp_path) == [(manifest.files[0], tmp_path / "big.bin")]


def test_a_manifest_written_before_changes_existed_still_reads(tmp_path):
    manifest = _stage(tmp_path / "old", {"a.csv": b"x\n"})
    data = json.loads(manifest.to_json())
    del data["changes"]
    assert Manifest.from_dict(data).changes is None
    counted = Manifest.from_dict({**data, "changes": {"added": 1, "changed": 0, "removed": 2}})
    assert json.loads(counted.to_json())["changes"] == {"added": 1, "changed": 0, "removed": 2}
