"""The progress bar of `ferry run --local`, drawn from the extract's own progress records."""

from __future__ import annotations

import io
import logging

from ferry.cli.progress_bar import extract_bar
from ferry.engine.progress import Progress


def test_the_bar_shows_rows_rate_and_eta_as_the_extract_goes():
    screen = io.StringIO()
    log = logging.getLogger("ferry.test.bar")
    log.setLevel(logging.DEBUG)

    with extract_bar(True, screen):
        progress = Progress(log, total=20_000, every=3600.0)
        progress.add(5_000)
        progress.add(15_000)

    shown = screen.getvalue()
    assert "20000/20000" in shown
    assert " rows/s" in shown and "ETA" in shown


def test_without_a_terminal_there_is_no_bar(capsys):
    log = logging.getLogger("ferry.test.bar")
    log.setLevel(logging.DEBUG)

    with extract_bar(False):
        Progress(log, total=10, every=3600.0).add(10)

    assert capsys.readouterr() == ("", "")
    assert not [h for h in logging.getLogger("ferry").handlers if type(h).__name__ == "ExtractBar"]
