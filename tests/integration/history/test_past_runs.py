"""The `ferry history` command's tests (tests.unit.cli.test_past_runs),
re-run on Postgres (conftest.py's history_backend)."""

from tests.unit.cli.test_past_runs import *  # noqa: F403
