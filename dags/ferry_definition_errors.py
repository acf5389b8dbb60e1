"""Surface definition errors as an import error: the red banner above the Airflow DAG list.

The exports that load still render from ferry_exports.py; this file fails only to put the
errors (file, line, field, fix) where the platform team looks first. It renders too (and
throws the DAGs away), so a definition Airflow refuses at render time is listed here as
well as shown as its own ferry_broken__* DAG.
"""

from ferry.paths import include_dir
from ferry.render.dags import render_project
from ferry.render.groups import render_groups
from ferry.render.imports import render_imports
from ferry.spec.loader import load_project

_project = load_project(include_dir())
render_project(_project)  # DAGs register only from the module globals of their files
render_groups(_project)
render_imports(_project)
if _project.errors:
    listing = "\n".join(f"  {error}" for error in _project.errors)
    raise ValueError(
        f"{len(_project.errors)} Ferry definition error(s); the other exports still run:\n{listing}"
    )
