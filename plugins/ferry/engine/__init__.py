"""The export engine: read the warehouse, apply PII, write chunked files and a manifest.

Plain Python (no Airflow), called by the extract and validate tasks, the CLI and bench/.
"""

from ferry.engine.extract import extract
from ferry.engine.pii import MissingPiiKeyError
from ferry.engine.sample import count, preview
from ferry.engine.validate import ExpectationsFailed, validate

__all__ = [
    "ExpectationsFailed",
    "MissingPiiKeyError",
    "count",
    "extract",
    "preview",
    "validate",
]
