"""Surface definition errors as an import error: the red banner above the Airflow DAG list.

The exports that load still render from ferry_exports.py; this file fails only to put the
errors (file, line, field, fix) where the platform team looks first.
"""

from ferry.paths import include_dir
from ferry.spec.loader import load_project

_errors = load_project(include_dir()).errors
if _errors:
    listing = "\n".join(f"  {error}" for error in _errors)
    raise ValueError(
        f"{len(_errors)} Ferry definition error(s); the other exports still run:\n{listing}"
    )
