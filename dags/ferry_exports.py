"""Every export in include/exports/ as an Airflow DAG export__<id>; broken files as ferry_broken__*.

Kept thin on purpose: it reads YAML and builds DAG objects; no warehouse, no network.
"""

from ferry.paths import include_dir
from ferry.render.dags import render_project
from ferry.spec.loader import load_project

globals().update(render_project(load_project(include_dir())))
