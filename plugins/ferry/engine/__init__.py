"""The export engine: read the warehouse, apply PII, write chunked files and a manifest.

Plain Python (no Airflow), called by the extract and validate tasks, the CLI and bench/.
"""

from ferry.engine.extract import extract
from ferry.engine.pii import MissingPiiKeyError
from ferry.engine.sample import count, preview

__all__ = ["MissingPiiKeyError", "count", "extract", "preview"]
