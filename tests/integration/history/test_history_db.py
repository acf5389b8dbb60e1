"""history_db's tests (tests.unit.test_history_db),
re-run on Postgres (conftest.py's history_backend)."""

from tests.unit.test_history_db import *  # noqa: F403
