"""What stops an import's load, and whether another try could change it."""

from __future__ import annotations

from ferry.exceptions import Terminal, Transient


class BadImportFile(Terminal):
    """A file cannot be loaded as defined (missing column, not the format, truncated,
    empty, wrong encoding): the same file fails the same way; nothing was loaded."""


class ImportSetupError(Terminal):
    """The import and its table do not fit (a mapped column the table lacks, no merge
    key, a target Ferry cannot write): fix the definition; nothing was loaded."""


class NothingToLoad(Terminal):
    """An overwrite with no rows to load (an empty file, every row rejected): refused, as
    it would empty the table; the table is unchanged."""


class RejectsExceeded(Terminal):
    """More rows were rejected than rejects.max_rate allows (on_exceed: fail)."""


class ImportExpectationsFailed(Terminal):
    """An expectation with on_failure: fail did not hold on the rows to load."""

    def __init__(self, failed: list[str]):
        self.failed = failed
        super().__init__("expectations failed: " + "; ".join(failed))


class TargetRefused(Terminal):
    """The target table refused the rows (a constraint, a type): rolled back, unchanged."""


class TargetUnusable(Terminal):
    """The target cannot be written at all (not a database, no permission, out of memory):
    every retry would fail the same way; nothing was loaded."""


class TargetBusy(Transient):
    """The target is locked by another process or unreachable: rolled back, retried."""
