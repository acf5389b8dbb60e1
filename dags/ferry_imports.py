"""Airflow DAG file: one DAG import__<id> per import job in include/imports/.

Kept thin on purpose: it reads YAML and builds DAG objects; no warehouse, no network.
Broken import files show up with the exports (ferry_exports.py) as ferry_broken__imports.*.
"""

from ferry.paths import include_dir
from ferry.render.imports import render_imports
from ferry.spec.loader import load_project

globals().update(render_imports(load_project(include_dir())))
