"""`ferry history`: the run records, newest first, of an export, a group or all, as a
table or as JSON lines; from a run history of the test's own (FERRY_HOME)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re

import pytest

from ferry import history, history_db
from ferry.cli import main as ferry
from ferry.run_info import RunInfo

START = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def own_history(history_backend):
    return history_backend


def record(export_id: str, minute: int, outcome: str = "success", **fields) -> history.RunRecord:
    finished = START + dt.timedelta(minutes=minute)
    run = RunInfo(export_id, f"manual__{finished.isoformat()}", triggered_by="ana (cli)")
    done = history.RunRecord.ended(
        run, outcome, "", started_at=finished - dt.timedelta(seconds=4), finished_at=finished
    )
    done = dataclasses.replace(done, **fields)
    history.record_run(done)
    return done


def table(text: str) -> list[dict[str, str]]:
    """Rows of a printed table, by column title (columns are two or more spaces apart)."""
    lines = text.strip().splitlines()
    titles = re.split(r"\s{2,}", lines[0])
    return [dict(zip(titles, re.split(r"\s{2,}", line), strict=True)) for line in lines[1:]]


def rows(text: str) -> list[str]:
    return [row["RUN"] for row in table(text)]


def test_history_of_an_export_is_newest_first_with_its_numbers(capsys):
    older = record("leads", 1, rows=10, files=1, bytes=120)
    newer = record("leads", 2, "failed", reason="extract failed: no warehouse")
    record("other", 3)

    assert ferry(["history", "leads"]) == 0
    out = capsys.readouterr().out

    assert table(out) == [
        {"RUN": newer.job_run_id, "TRIGGERED BY": "ana (cli)", "STARTED": "2026-11-20 02:01 UTC",
         "DURATION": "4.0 s", "OUTCOME": "failed", "ROWS": "0", "FILES": "0", "BYTES": "0",
         "DESTINATIONS": "-", "REASON": "extract failed: no warehouse"},
        {"RUN": older.job_run_id, "TRIGGERED BY": "ana (cli)", "STARTED": "2026-11-20 02:00 UTC",
         "DURATION": "4.0 s", "OUTCOME": "success", "ROWS": "10", "FILES": "1", "BYTES": "120",
         "DESTINATIONS": "-", "REASON": "-"},
    ]  # fmt: skip


def test_outcome_and_limit_narrow_the_records(capsys):
    written = [
        record("leads", minute, "failed" if minute % 2 else "success") for minute in range(5)
    ]

    assert ferry(["history", "leads", "--outcome", "failed", "--limit", "1"]) == 0
    assert rows(capsys.readouterr().out) == [written[3].job_run_id]


def test_json_gives_the_full_records_one_per_line(capsys):
    written = record("leads", 1, rows=3, destinations=json.dumps([{"destination": "s3"}]))

    assert ferry(["history", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line) == dataclasses.asdict(written)


def test_a_group_id_shows_its_members_runs(capsys):
    member = record("leads", 1, group_run_id="nightly.scheduled__1")
    record("leads", 2)

    assert ferry(["history", "nightly"]) == 0
    assert rows(capsys.readouterr().out) == [member.job_run_id]


def test_no_records_says_where_it_looked(capsys):
    assert ferry(["history", "leads"]) == 0
    assert capsys.readouterr().out == f"no runs recorded for leads in {history_db.where()}\n"
