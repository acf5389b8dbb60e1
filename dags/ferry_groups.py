"""Every job group in include/groups/ as an Airflow DAG group__<id>: its members in order.

Kept thin on purpose: it reads YAML and builds DAG objects; no warehouse, no network.
Broken group files show up with the exports (ferry_exports.py) as ferry_broken__groups.*.
"""

from ferry.paths import include_dir
from ferry.render.groups import render_groups
from ferry.spec.loader import load_project

globals().update(render_groups(load_project(include_dir())))
