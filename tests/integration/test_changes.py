"""Changes-only exports from the demo warehouse: each run delivers the rows added, changed
and removed since the last fully delivered run, checked by parsing the delivered CSV."""

from __future__ import annotations

import pytest

from changes_runs import (
    delivered,
    file_bytes,
    make_home,
    manifest_of,
    outcome,
    profile_line,
    profiles,
    run,
)
from cli_runner import run_ferry
from ferry import history
from ferry.run_info import RunInfo

pytestmark = pytest.mark.integration
HEADER = ["profile_id", "City", "lifetime_value", "Email", "_change"]


@pytest.fixture
def home(tmp_path, monkeypatch, warehouse):
    return make_home(tmp_path, monkeypatch, warehouse)


def edit_three_rows(home) -> None:
    """Update a sent column of 5, an unsent one (phone) of 6; delete 7; insert 990001."""
    first = [row[0] for row in profiles(home)][:3]
    home.sql(
        f"UPDATE customer_profile SET city = 'Changed City' WHERE profile_id = {first[0]}",
        f"UPDATE customer_profile SET phone = '+1 000' WHERE profile_id = {first[1]}",
        f"DELETE FROM customer_profile WHERE profile_id = {first[2]}",
        "INSERT INTO customer_profile (profile_id, city, lifetime_value, email) "
        "VALUES (990001, 'New Town', 12.50, 'new.person@example.com')",
    )
    return first


def test_the_first_run_adds_every_row_then_only_changes_are_sent(home):
    export = home.define("profile_changes")
    assert run(export, "manual__1") == 0
    header, rows = delivered(export, "manual__1")
    assert header == HEADER
    assert rows == [profile_line(row, "added") for row in profiles(home)]

    changed, unsent, removed = edit_three_rows(home)
    assert run(export, "manual__2") == 0

    header, rows = delivered(export, "manual__2")
    assert header == HEADER
    assert rows == [
        profile_line(profiles(home, f"profile_id = {changed}")[0], "changed"),
        [str(removed), "", "", "", "removed"],
        ["990001", "New Town", "12.50", "n***@example.com", "added"],
    ]
    assert unsent not in [int(row[0]) for row in rows]  # its change is in a column not sent
    manifest = manifest_of(export, "manual__2")
    assert manifest["changes"] == {"added": 1, "changed": 1, "removed": 1}
    assert manifest["rows"] == 3
    assert {"name": "_change", "type": "VARCHAR"} in manifest["schema"]


def test_no_change_is_an_empty_result(home):
    export = home.define("profile_changes")
    assert run(export, "manual__1") == 0
    assert run(export, "manual__2") == 0
    assert delivered(export, "manual__2") == (HEADER, [])
    assert outcome(export, "manual__2") == "empty"
    assert manifest_of(export, "manual__2")["changes"] == {"added": 0, "changed": 0, "removed": 0}


def test_three_file_sets_with_output_files(home):
    export = home.define("profile_files", "{output: files}")
    assert run(export, "manual__1") == 0
    changed, _, removed = edit_three_rows(home)
    assert run(export, "manual__2") == 0
    names = [f["name"] for f in manifest_of(export, "manual__2")["files"] if f["kind"] == "data"]
    assert names == [
        "added_profile_files_00001.csv",
        "changed_profile_files_00001.csv",
        "removed_profile_files_00001.csv",
    ]
    header = HEADER[:-1]
    assert delivered(export, "manual__2", "added_") == (
        header, [["990001", "New Town", "12.50", "n***@example.com"]],
    )  # fmt: skip
    row = profiles(home, f"profile_id = {changed}")[0]
    assert delivered(export, "manual__2", "changed_") == (header, [profile_line(row, "")[:-1]])
    assert delivered(export, "manual__2", "removed_") == (header, [[str(removed), "", "", ""]])


def test_a_rerun_sends_the_same_bytes_and_an_older_rerun_never_moves_the_state_back(home):
    export = home.define("profile_changes")
    assert run(export, "manual__1") == 0
    first = [row[0] for row in profiles(home)]
    home.sql(f"UPDATE customer_profile SET city = 'A' WHERE profile_id = {first[0]}")
    assert run(export, "manual__2") == 0
    sent = file_bytes(export, "manual__2")
    assert run(export, "manual__2") == 0  # cleared in Airflow: the same run again
    assert file_bytes(export, "manual__2") == sent  # same data, same run: same bytes

    home.sql(f"UPDATE customer_profile SET city = 'B' WHERE profile_id = {first[1]}")
    assert run(export, "manual__3") == 0
    assert [row[0] for row in delivered(export, "manual__3")[1]] == [str(first[1])]
    assert run(export, "manual__2") == 0  # an older run again: its own base, run 1's
    assert [row[0] for row in delivered(export, "manual__2")[1]] == [str(first[0]), str(first[1])]
    assert run(export, "manual__4") == 0  # the state is still run 3's
    assert delivered(export, "manual__4")[1] == []


def test_reset_makes_the_next_run_send_every_row(home):
    export = home.define("profile_changes")
    assert run(export, "manual__1") == 0
    done = run_ferry("reset", export)
    assert done.code == 0, done.err
    assert f"reset export {export}: forgot the state of run manual__1" in done.out
    assert run(export, "manual__2") == 0
    assert delivered(export, "manual__2")[1] == [profile_line(r, "added") for r in profiles(home)]


def test_reset_of_an_export_that_sends_every_row_says_so(home):
    done = run_ferry("reset", "customer_profiles_csv")
    assert done.code == 1
    assert "reset applies to changes-only exports" in done.err


def test_two_exports_of_one_table_keep_their_own_state(home):
    one, two = home.define("changes_one"), home.define("changes_two")
    assert run(one, "manual__1") == 0
    assert run(one, "manual__2") == 0
    assert run(two, "manual__1") == 0  # its first run: everything, whatever one sent
    assert delivered(one, "manual__2")[1] == []
    assert len(delivered(two, "manual__1")[1]) == len(profiles(home))


def test_limits_judge_the_change_set_and_a_skipped_run_keeps_its_changes(home):
    export = home.define("profile_changes", extra="limits: {max_rows: 2}\n")
    text = (home.include / "exports" / f"{export}.yaml").read_text()
    unlimited = text.replace("limits: {max_rows: 2}", "limits: {max_rows: 1000000}")
    (home.include / "exports" / f"{export}.yaml").write_text(unlimited)
    assert run(export, "manual__1") == 0
    (home.include / "exports" / f"{export}.yaml").write_text(text)
    edit_three_rows(home)

    assert run(export, "manual__2") == 1  # 3 changes, over 2
    [record] = [r for r in history.list_runs(export) if r.run_id == "manual__2"]
    assert (record.outcome, record.reason) == (
        "skipped", "3 rows is over the maximum of 2 rows (export profile_changes)",
    )  # fmt: skip
    assert run(export, "manual__3") == 1  # still 3: nothing was lost
    (home.include / "exports" / f"{export}.yaml").write_text(text.replace("2}", "3}"))
    assert run(export, "manual__4") == 0  # the whole table is far over 3: not what counts
    assert manifest_of(export, "manual__4")["changes"] == {"added": 1, "changed": 1, "removed": 1}


def test_a_segment_sends_members_entering_as_added_and_leaving_as_removed(home):
    export = "high_value_changes"
    (home.include / "exports" / f"{export}.yaml").write_text(
        "id: high_value_changes\nname: High value changes\nkind: segment\n"
        "source: {segment: high_value_customers}\ntarget: mailchimp\n"
        "fields: [profile_id, {field: email, as: Email}, lifetime_value]\n"
        "pii: {email: keep}\nchanges: true\ndestinations: [{type: download}]\n"
        'schedule: "off"\n'
    )
    assert run(export, "manual__1") == 0
    members = delivered(export, "manual__1")[1]
    leaving = int(members[0][0])
    entering = home.rows(
        "SELECT profile_id FROM customer_profile WHERE lifetime_value <= 500 "
        "AND email IS NOT NULL ORDER BY profile_id LIMIT 1"
    )[0][0]
    home.sql(
        f"UPDATE customer_profile SET lifetime_value = 10 WHERE profile_id = {leaving}",
        "UPDATE customer_profile SET lifetime_value = 9999, country = 'US' "
        f"WHERE profile_id = {entering}",
    )
    assert run(export, "manual__2") == 0
    _, rows = delivered(export, "manual__2")
    kinds = {int(row[0]): row[-1] for row in rows}
    assert kinds == {leaving: "removed", entering: "added"}
    assert RunInfo(export, "manual__2").job_run_id in {r.job_run_id for r in history.list_runs()}


@pytest.mark.parametrize("output", ["column", "files"])
def test_expectations_judge_the_rows_sent_not_the_empty_values_of_removed_ones(home, output):
    expectations = (
        "expectations:\n  - {expect: not_null, field: lifetime_value}\n"
        "  - {expect: unique, field: profile_id}\n"
    )
    export = home.define("checked_changes", f"{{output: {output}}}", extra=expectations)
    home.sql("UPDATE customer_profile SET lifetime_value = 1 WHERE lifetime_value IS NULL")
    assert run(export, "manual__1") == 0
    [gone] = [row[0] for row in profiles(home)][:1]
    home.sql(f"DELETE FROM customer_profile WHERE profile_id = {gone}")
    assert run(export, "manual__2") == 0
    assert manifest_of(export, "manual__2")["changes"]["removed"] == 1
    home.sql("INSERT INTO customer_profile (profile_id, city) VALUES (990001, 'No Value')")
    assert run(export, "manual__3") == 1  # a row sent without a value still fails
    assert outcome(export, "manual__3") == "failed"
