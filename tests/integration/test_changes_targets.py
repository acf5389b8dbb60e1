"""Changes-only exports with real parts around them: a webhook that is down for a run, and the
state on S3 (moto) read by a worker with an empty home."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest

from changes_runs import delivered, make_home, outcome, profile_line, profiles, run
from ferry import history
from ferry.changes_state import REMOTE_DIR, StateStore
from ferry.run_info import RunInfo
from servers import MotoS3, WebhookServer, airflow_connection, running

pytestmark = pytest.mark.integration
BUCKET, PREFIX, CONN_ID = "ferry-changes-test", "runs", "ferry_changes_s3"
HOOKED = "[{type: download}, {type: webhook, connection: changes_hook, endpoint: /in}]"


@pytest.fixture
def home(tmp_path, monkeypatch, warehouse):
    return make_home(tmp_path, monkeypatch, warehouse)


def first_ids(home, count: int) -> list[int]:
    return [row[0] for row in profiles(home)][:count]


def posted(webhook: WebhookServer) -> list[tuple[str, str]]:
    records = [r for q in webhook.accepted for r in q.json()["records"]]
    return [(str(record["profile_id"]), record["_change"]) for record in records]


def test_a_failed_delivery_is_sent_again_with_the_newer_changes(home, monkeypatch):
    webhook = WebhookServer(secret=b"unused")  # not started yet: the target is down
    monkeypatch.setenv(*webhook.connection("changes_hook"))
    export = home.define("profile_changes", destinations=HOOKED)
    with running(webhook):
        assert run(export, "manual__1") == 0
    webhook.requests.clear()
    one, two = first_ids(home, 2)
    home.sql(f"UPDATE customer_profile SET city = 'Down' WHERE profile_id = {one}")

    assert run(export, "manual__2") == 1  # the download got the files, the webhook not
    assert outcome(export, "manual__2") == "failed"

    home.sql(f"DELETE FROM customer_profile WHERE profile_id = {two}")
    with running(webhook):
        assert run(export, "manual__3") == 0
    assert posted(webhook) == [(str(one), "changed"), (str(two), "removed")]
    assert [row[0] for row in delivered(export, "manual__3")[1]] == [str(one), str(two)]


@pytest.fixture
def s3() -> Iterator[MotoS3]:
    with running(MotoS3()) as server:
        server.client().create_bucket(Bucket=BUCKET)
        yield server


def test_the_state_on_s3_is_read_by_a_worker_with_an_empty_home(home, s3, monkeypatch, tmp_path):
    monkeypatch.setenv(*s3.connection(CONN_ID))
    monkeypatch.setenv("FERRY_STAGING", f"s3://{CONN_ID}@{BUCKET}/{PREFIX}")
    export = home.define("profile_changes")
    assert run(export, "manual__1") == 0
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=BUCKET)["Contents"]]
    state = f"{PREFIX}/{REMOTE_DIR}/{export}/"
    assert f"{state}head.json" in keys
    assert any(key.startswith(f"{state}states/") for key in keys)
    assert not any(key.startswith(f"{state}pending/") for key in keys)  # committed

    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "another-worker"))
    [one] = first_ids(home, 1)
    home.sql(f"UPDATE customer_profile SET city = 'Elsewhere' WHERE profile_id = {one}")
    assert run(export, "manual__2") == 0
    row = profiles(home, f"profile_id = {one}")[0]
    assert delivered(export, "manual__2")[1] == [profile_line(row, "changed")]


def test_a_folder_of_parquet_files_sends_its_changes(home, monkeypatch, tmp_path):
    folder = tmp_path / "files"
    (folder / "profiles").mkdir(parents=True)
    target = folder / "profiles" / "part-0.parquet"
    copy = "COPY (SELECT * FROM customer_profile ORDER BY profile_id) TO '{}' (FORMAT parquet)"
    home.sql(copy.format(target))
    monkeypatch.setenv(*airflow_connection("changes_files", conn_type="fs",
                                           extra={"path": str(folder)}))  # fmt: skip
    tables = home.include / "warehouse" / "tables.yaml"
    moved = "  customer_profile:\n    connection: changes_files\n    name: profiles/*.parquet\n"
    tables.write_text(tables.read_text().replace("  customer_profile:\n", moved))
    export = home.define("files_changes")
    assert run(export, "manual__1") == 0
    assert delivered(export, "manual__1")[1] == [profile_line(r, "added") for r in profiles(home)]

    one, two = first_ids(home, 2)
    home.sql(
        f"UPDATE customer_profile SET city = 'Filed' WHERE profile_id = {one}",
        f"DELETE FROM customer_profile WHERE profile_id = {two}",
        copy.format(target),
    )
    assert run(export, "manual__2") == 0
    row = profiles(home, f"profile_id = {one}")[0]
    assert delivered(export, "manual__2")[1] == [
        profile_line(row, "changed"), [str(two), "", "", "", "removed"],
    ]  # fmt: skip


def test_three_file_sets_reach_a_per_part_path_each_part_naming_its_kind(home, s3, monkeypatch):
    monkeypatch.setenv(*s3.connection(CONN_ID))
    path = "out/{{ run_id }}/profiles_{{ part }}.{{ ext }}"
    destination = f'[{{type: s3, connection: {CONN_ID}, bucket: {BUCKET}, path: "{path}"}}]'
    export = home.define("profile_files", "{output: files}", destinations=destination)
    assert run(export, "manual__1") == 0
    one, two = first_ids(home, 2)
    home.sql(
        f"UPDATE customer_profile SET city = 'Parted' WHERE profile_id = {one}",
        f"DELETE FROM customer_profile WHERE profile_id = {two}",
    )
    assert run(export, "manual__2") == 0
    sent = s3_csv(s3, "out/manual__2/")
    assert sent["profiles_changed_00001.csv"] == [
        profile_line(profiles(home, f"profile_id = {one}")[0], "")[:-1]
    ]
    assert sent["profiles_removed_00001.csv"] == [[str(two), "", "", ""]]
    assert sent.get("profiles_added_00001.csv", []) == []


def s3_csv(s3: MotoS3, prefix: str) -> dict[str, list[list[str]]]:
    """The rows of each CSV file under prefix (the header left out), by file name."""
    client, found = s3.client(), {}
    for item in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]:
        name = item["Key"].removeprefix(prefix)
        if name.endswith(".csv"):
            body = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode()
            found[name] = list(csv.reader(io.StringIO(body)))[1:]
    return found


def test_on_s3_a_commit_overtaken_between_its_read_and_write_keeps_the_head(
    home, s3, monkeypatch, tmp_path
):
    monkeypatch.setenv(*s3.connection(CONN_ID))
    monkeypatch.setenv("FERRY_STAGING", f"s3://{CONN_ID}@{BUCKET}/{PREFIX}")
    store_a, store_b = StateStore("lead_changes"), StateStore("lead_changes")  # two workers
    for run_id in ("run_a", "run_b"):  # both diff against no state
        store_a.base_for(run_id)
        (tmp_path / run_id).write_bytes(run_id.encode())
        store_a.stage(run_id, tmp_path / run_id)
    reads: list[str] = []

    def key_of(params, **_):
        reads.append(params["Key"])

    def after_read(**_):  # run_b commits right after run_a read head.json
        if reads[-1].endswith("/head.json") and not reads.count("done"):
            reads.append("done")
            assert "committed the state of run run_b" in store_b.commit("run_b")

    events = store_a.files.bucket.client.meta.events
    events.register("provide-client-params.s3.GetObject", key_of)
    events.register("after-call.s3.GetObject", after_read)
    said = store_a.commit("run_a")
    assert "done" in reads
    assert "kept the head at run run_b" in said  # run_a's changes are sent again
    head = store_b.head()
    assert head.run == "run_b"
    assert store_b.base_file(head, tmp_path).read_bytes() == b"run_b"


def test_rows_a_webhook_rejected_under_its_limit_are_sent_again(home, monkeypatch):
    refusing = True

    def reject_the_first(request, number):
        if refusing:
            return 200, {}, json.dumps({"errors": [{"index": 0, "reason": "bad city"}]}).encode()
        return None

    webhook = WebhookServer(secret=b"unused", script=reject_the_first)
    monkeypatch.setenv(*webhook.connection("changes_hook"))
    hooked = HOOKED.replace("endpoint: /in}", "endpoint: /in, on_rejects_over: warn}")
    export = home.define("profile_changes", destinations=hooked)
    with running(webhook):
        refusing = False
        assert run(export, "manual__1") == 0
        [one] = first_ids(home, 1)
        home.sql(f"UPDATE customer_profile SET city = 'Refused' WHERE profile_id = {one}")
        refusing = True
        assert run(export, "manual__2") == 0  # a success: the target took what it could
        record = history.get_run(RunInfo(export, "manual__2").job_run_id)
        assert "changes state not committed (webhook rejected 1 records)" in record.reason
        webhook.requests.clear()
        refusing = False
        assert run(export, "manual__3") == 0
    assert posted(webhook) == [(str(one), "changed")]
