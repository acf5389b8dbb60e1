"""Every export in include/exports/ as an Airflow DAG export__<id>; broken files as ferry_broken__*.

Kept thin on purpose: it reads YAML and builds DAG objects; no warehouse, no network.
A task process parses this file again before it runs: it gets only its own DAG (Airflow's
parsing context names it), not all of them (~30 ms each, 1.5 s per task at 50 exports).
"""

from airflow.sdk import get_parsing_context

from ferry.paths import include_dir
from ferry.render.dags import export_dag, isolated, render_project
from ferry.spec.loader import load_project

_project = load_project(include_dir())
_wanted = get_parsing_context().dag_id
_export = next((e for e in _project.exports.values() if e.dag_id == _wanted), None)
_own = _export and isolated(
    _project, f"exports:{_export.id}", lambda: export_dag(_export, _project)
)
globals().update({_own.dag_id: _own} if _own else render_project(_project))
