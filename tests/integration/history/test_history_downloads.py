"""The download audit's tests (tests.unit.test_history_downloads),
re-run on Postgres (conftest.py's history_backend)."""

from tests.unit.test_history_downloads import *  # noqa: F403
