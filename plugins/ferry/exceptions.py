"""Outcomes that stop an export run, and whether another try could change them.

Independent of Airflow: ferry.render.operators maps them to Airflow in one place
(task_outcome). Every error Ferry raises says what it is, by the marker it carries
(the model is dlt's TerminalException / TransientException):

- Terminal: another try runs the same definition on the same data with the same params
  and fails the same way (a rejected export, bad run params, a failed expectation, a
  missing PII key, an ineligible segment, a staged file that changed, a refusal by the
  target). The task fails at once, without retries, with the error's message.
- Transient: the world may change before the next try (a network error, an HTTP 5xx, a
  lock held by someone else, a timeout). The task is retried with exponential backoff.

Errors whose kind depends on their cause (a delivery or staging error: a 403 is terminal,
a reset connection transient) carry a boolean `retryable` instead; errors of libraries
are classified by type below. An error nobody classified is retried like a transient one,
as Airflow does by default, and logged as unclassified: a failure nobody foresaw should
not lose its retries, and its log line says to classify it.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Literal

Kind = Literal["terminal", "transient", "unclassified"]

# DuckDB errors by what another try can do: a query that cannot bind, cast or parse fails
# the same way again; a lock, I/O or memory shortage may be gone by then.
_DUCKDB_TERMINAL = (
    "BinderException", "CatalogException", "ConstraintException", "ConversionException",
    "InvalidInputException", "NotImplementedException", "OutOfRangeException",
    "ParserException", "SyntaxException", "TypeMismatchException",
)  # fmt: skip
_DUCKDB_TRANSIENT = (
    "ConnectionException", "IOException", "InterruptException", "OutOfMemoryException",
    "TransactionException",
)  # fmt: skip


class Terminal(Exception):
    """Marker: another try cannot succeed; the task fails at once with this message."""


class Transient(Exception):
    """Marker: another try may succeed; the task is retried with backoff."""


class ExportSkipped(Exception):
    """The run has nothing to do (e.g. over a size limit); downstream steps are skipped."""


class ExportRejected(Terminal):
    """The run cannot go ahead as defined (e.g. a segment the target does not accept)."""


class BadRunParams(ExportRejected):
    """A run param (date_from, date_to, ids) is not what the export accepts."""


def kind_of(error: BaseException) -> Kind:
    """Whether another try of the task could succeed after this error (the one place)."""
    if isinstance(error, Terminal):
        return "terminal"
    if isinstance(error, Transient):
        return "transient"
    retryable = getattr(error, "retryable", None)
    if isinstance(retryable, bool):
        return "transient" if retryable else "terminal"
    return _library_kind(error)


def _library_kind(error: BaseException) -> Kind:
    if isinstance(error, (ConnectionError, TimeoutError)):
        return "transient"
    if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
        return "transient"  # the run history, busy with another task's record
    psycopg = sys.modules.get("psycopg")  # loaded when the history is on Postgres
    if psycopg is not None and isinstance(error, psycopg.OperationalError):
        return "transient"  # the history's server down or restarting: try again later
    airflow = sys.modules.get("airflow.sdk.exceptions")  # loaded when a hook raised it
    if airflow is not None and isinstance(error, airflow.AirflowNotFoundException):
        return "terminal"  # a connection that is not defined: define it, then rerun
    duckdb = sys.modules.get("duckdb")  # a DuckDB error means DuckDB is loaded
    if duckdb is not None and isinstance(error, duckdb.Error):
        for kind, names in (("terminal", _DUCKDB_TERMINAL), ("transient", _DUCKDB_TRANSIENT)):
            if isinstance(error, tuple(getattr(duckdb, name) for name in names)):
                return kind
    return "unclassified"


def describe(error: BaseException) -> str:
    """The error's message, or its type when it has none."""
    return str(error) or type(error).__name__
