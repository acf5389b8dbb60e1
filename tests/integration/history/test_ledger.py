"""The import ledger's tests (tests.unit.imports.test_ledger),
re-run on Postgres (conftest.py's history_backend)."""

from tests.unit.imports.test_ledger import *  # noqa: F403
