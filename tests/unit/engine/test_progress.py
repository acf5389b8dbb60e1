"""Progress lines in the task log: rows so far, share, rate and ETA, at most every N seconds."""

from __future__ import annotations

import logging

from ferry.engine.progress import Progress


def test_every_batch_is_counted_and_a_line_says_how_far(caplog):
    log = logging.getLogger("ferry.test.progress")
    progress = Progress(log, total=1_000_000, every=0.0)
    with caplog.at_level(logging.INFO, logger=log.name):
        progress.add(250_000)
        progress.add(250_000)
    assert progress.rows == 500_000
    first, second = caplog.messages
    assert first.startswith("extract: 250,000 of 1,000,000 rows (25%), ")
    assert second.startswith("extract: 500,000 of 1,000,000 rows (50%), ")
    assert " rows/s, ETA 0:00:" in second


def test_lines_are_at_most_every_few_seconds(caplog):
    log = logging.getLogger("ferry.test.progress")
    progress = Progress(log, total=10, every=3600.0)
    with caplog.at_level(logging.INFO, logger=log.name):
        for _ in range(10):
            progress.add(1)
    assert progress.rows == 10 and caplog.messages == []


def test_an_empty_result_is_all_done(caplog):
    log = logging.getLogger("ferry.test.progress")
    with caplog.at_level(logging.INFO, logger=log.name):
        Progress(log, total=0, every=0.0).add(0)
    assert caplog.messages[0].startswith("extract: 0 of 0 rows (100%)")


def test_each_batch_is_a_debug_record_with_rows_and_total_for_a_progress_bar(caplog):
    log = logging.getLogger("ferry.test.progress")
    with caplog.at_level(logging.DEBUG, logger=log.name):
        progress = Progress(log, total=30, every=3600.0)
        progress.add(10)
        progress.add(20)
    assert [r.progress for r in caplog.records] == [(0, 30), (10, 30), (30, 30)]
