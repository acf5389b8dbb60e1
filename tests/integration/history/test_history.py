"""The run history's tests (tests.unit.test_history),
re-run on Postgres (conftest.py's history_backend)."""

from tests.unit.test_history import *  # noqa: F403
