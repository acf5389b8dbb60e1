"""The history copy's tests (tests.unit.test_history_copy): SQLite files copied into a real
Postgres (conftest.py's history_backend)."""

from tests.unit.test_history_copy import *  # noqa: F403
