"""An import's files on a real OpenSSH SFTP server and on moto's S3: found by the run's date,
one or all, fetched byte for byte, moved to done/ after the load; refusals are terminal."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pwd
import shutil
import time

import pytest

from ferry.exceptions import kind_of
from ferry.imports import files
from ferry.run_info import RunInfo
from ferry.spec.imports import ImportSpec
from servers import SFTP_USER

DAY = RunInfo(
    "partner", "scheduled__2026-03-04", logical_date=dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
)
NAMES = ["leads_20260304_a.csv.gz", "leads_20260304_b.csv.gz", "leads_20260303.csv.gz", "x.csv"]


def spec(source: dict) -> ImportSpec:
    return ImportSpec.model_validate(
        {"id": "partner", "name": "Partner", "table": "lead", "mode": "append",
         "source": {"pattern": "leads_{{ ds_nodash }}*.csv.gz", "done_folder": "done", **source}}
    )  # fmt: skip


def sftp_drop(server, names: list[str]) -> dict[str, bytes]:
    """Files in <root>/outbox on the server, owned by its user, each a little older."""
    outbox = server.root / "outbox"
    outbox.mkdir()
    user = pwd.getpwnam(SFTP_USER)
    os.chown(outbox, user.pw_uid, user.pw_gid)
    contents = {}
    for index, name in enumerate(names):
        contents[name] = os.urandom(1000 + index)
        (outbox / name).write_bytes(contents[name])
        os.chown(outbox / name, user.pw_uid, user.pw_gid)
        os.utime(outbox / name, (1_700_000_000 - index, 1_700_000_000 - index))
    (outbox / "leads_20260304_dir.csv.gz").mkdir()
    return contents


def test_sftp_finds_by_date_fetches_identical_bytes_and_moves_to_done(
    sftp_server, monkeypatch, tmp_path
):
    monkeypatch.setenv(*sftp_server.connection("partner_sftp"))
    contents = sftp_drop(sftp_server, NAMES)
    source = {
        "type": "sftp",
        "connection": "partner_sftp",
        "path": str(sftp_server.root / "outbox"),
    }
    found = files.find(spec(source), DAY.template_vars())
    assert [f.name for f in found] == NAMES[:2]
    fetched = files.fetch(spec(source), found, tmp_path / "run")
    for local in fetched:
        assert local.path.read_bytes() == contents[local.name]
        assert local.sha256 == hashlib.sha256(contents[local.name]).hexdigest()
    files.finish(spec(source), found)
    assert sorted(p.name for p in (sftp_server.root / "outbox" / "done").iterdir()) == NAMES[:2]
    assert files.find(spec(source), DAY.template_vars()) == []


def test_sftp_one_takes_the_newest(sftp_server, monkeypatch):
    monkeypatch.setenv(*sftp_server.connection("partner_sftp"))
    sftp_drop(sftp_server, NAMES)
    outbox = str(sftp_server.root / "outbox")
    source = {"type": "sftp", "connection": "partner_sftp", "path": outbox, "files": "one"}
    assert [f.name for f in files.find(spec(source), DAY.template_vars())] == [NAMES[0]]


def test_sftp_a_refused_login_is_terminal_and_a_dead_server_transient(sftp_server, monkeypatch):
    other_key = sftp_server.home / "other_key"
    shutil.copy(sftp_server.home / "host_key", other_key)  # a key the server does not accept
    monkeypatch.setenv(*sftp_server.connection("partner_sftp", key_file=str(other_key)))
    source = {"type": "sftp", "connection": "partner_sftp", "path": "outbox"}
    with pytest.raises(files.FilesRefused) as refused:
        files.find(spec(source), DAY.template_vars())
    assert kind_of(refused.value) == "terminal" and "partner" in str(refused.value)
    monkeypatch.setenv(*sftp_server.connection("partner_sftp"))
    sftp_server.stop()
    with pytest.raises(files.FilesUnreachable) as unreachable:
        files.find(spec(source), DAY.template_vars())
    assert kind_of(unreachable.value) == "transient"


def test_s3_finds_by_date_under_the_prefix_only_and_fetches_identical_bytes(
    s3_server, monkeypatch, tmp_path
):
    monkeypatch.setenv(*s3_server.connection("partner_s3"))
    client = s3_server.client()
    client.create_bucket(Bucket="partner-drop")
    contents = {}
    for index, name in enumerate(NAMES):
        contents[name] = os.urandom(2000 + index)
        client.put_object(Bucket="partner-drop", Key=f"outbox/{name}", Body=contents[name])
    client.put_object(Bucket="partner-drop", Key="outbox/deeper/leads_20260304_c.csv.gz", Body=b"x")
    client.put_object(Bucket="partner-drop", Key="leads_20260304_root.csv.gz", Body=b"x")
    source = {"type": "s3", "connection": "partner_s3", "bucket": "partner-drop", "path": "outbox"}
    found = files.find(spec(source), DAY.template_vars())
    assert [f.name for f in found] == NAMES[:2]
    for local in files.fetch(spec(source), found, tmp_path / "run"):
        assert local.sha256 == hashlib.sha256(contents[local.name]).hexdigest()
    files.finish(spec(source), found)
    keys = {o["Key"] for o in client.list_objects_v2(Bucket="partner-drop")["Contents"]}
    assert {"outbox/done/" + name for name in NAMES[:2]} <= keys
    assert not {"outbox/" + name for name in NAMES[:2]} & keys
    one = spec({**source, "files": "one"})
    time.sleep(1.1)  # S3 keeps LastModified in seconds
    client.put_object(Bucket="partner-drop", Key="outbox/leads_20260304_0.csv.gz", Body=b"new")
    assert [f.name for f in files.find(one, DAY.template_vars())] == ["leads_20260304_0.csv.gz"]


def test_s3_a_missing_bucket_is_terminal(s3_server, monkeypatch):
    monkeypatch.setenv(*s3_server.connection("partner_s3"))
    source = {"type": "s3", "connection": "partner_s3", "bucket": "no-such-bucket"}
    with pytest.raises(files.FilesRefused, match="no-such-bucket"):
        files.find(spec(source), DAY.template_vars())


def test_sftp_lists_no_upload_in_progress_and_moves_only_unchanged_files(sftp_server, monkeypatch):
    monkeypatch.setenv(*sftp_server.connection("partner_sftp"))
    sftp_drop(sftp_server, [*NAMES[:2], "leads_20260304_c.csv.gz.part", ".leads_20260304_d.csv.gz"])
    outbox = sftp_server.root / "outbox"
    source = {"type": "sftp", "connection": "partner_sftp", "path": str(outbox),
              "pattern": "*leads_{{ ds_nodash }}*"}  # fmt: skip
    found = files.find(spec(source), DAY.template_vars())
    assert [f.name for f in found] == NAMES[:2]  # .part and hidden: uploads in progress
    (outbox / NAMES[0]).write_bytes(b"uploaded again after the load")
    finished = files.finish(spec(source), found)
    assert [os.path.basename(p) for p in finished.moved] == [NAMES[1]]
    assert (outbox / NAMES[0]).read_bytes() == b"uploaded again after the load"
    assert not (outbox / "done" / NAMES[0]).exists()
    [left] = finished.left
    assert f"{NAMES[0]} changed since it was loaded" in left and "next run" in left


def test_s3_lists_no_upload_in_progress_and_moves_only_unchanged_objects(s3_server, monkeypatch):
    monkeypatch.setenv(*s3_server.connection("partner_s3"))
    client = s3_server.client()
    client.create_bucket(Bucket="partner-again")
    for name in [*NAMES[:2], "leads_20260304_c.csv.gz.part", ".leads_20260304_d.csv.gz"]:
        client.put_object(Bucket="partner-again", Key=f"outbox/{name}", Body=b"first upload")
    source = {"type": "s3", "connection": "partner_s3", "bucket": "partner-again",
              "path": "outbox", "pattern": "*leads_{{ ds_nodash }}*"}  # fmt: skip
    found = files.find(spec(source), DAY.template_vars())
    assert [f.name for f in found] == NAMES[:2]
    body = b"uploaded again after the load"
    client.put_object(Bucket="partner-again", Key=f"outbox/{NAMES[0]}", Body=body)
    finished = files.finish(spec(source), found)
    assert finished.moved == [f"s3://partner-again/outbox/done/{NAMES[1]}"]
    kept = client.get_object(Bucket="partner-again", Key=f"outbox/{NAMES[0]}")["Body"].read()
    assert kept == body
    keys = {o["Key"] for o in client.list_objects_v2(Bucket="partner-again")["Contents"]}
    assert f"outbox/done/{NAMES[0]}" not in keys
    [left] = finished.left
    assert f"outbox/{NAMES[0]} changed since it was loaded" in left
