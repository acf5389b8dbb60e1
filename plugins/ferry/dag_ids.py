"""The names of Ferry's DAGs: export__<id>, import__<id>, group__<id>, ferry_broken__<file>.

The one place they are spelled: the renderer names DAGs by them, the listener and the CLI
read them back.
"""

from __future__ import annotations

EXPORT_PREFIX = "export__"
GROUP_PREFIX = "group__"
IMPORT_PREFIX = "import__"
BROKEN_PREFIX = "ferry_broken__"


def export_dag_id(export_id: str) -> str:
    return f"{EXPORT_PREFIX}{export_id}"


def group_dag_id(group_id: str) -> str:
    return f"{GROUP_PREFIX}{group_id}"


def import_dag_id(import_id: str) -> str:
    return f"{IMPORT_PREFIX}{import_id}"


def import_of_dag(dag_id: str) -> str:
    """The import whose own DAG this is, or "" for any other DAG."""
    return dag_id.removeprefix(IMPORT_PREFIX) if dag_id.startswith(IMPORT_PREFIX) else ""


def broken_dag_id(file_key: str) -> str:
    """The DAG that shows a definition file's errors (file_key: exports.<id>, ...)."""
    return f"{BROKEN_PREFIX}{file_key}"


def export_of_dag(dag_id: str) -> str:
    """The export whose own DAG this is, or "" for any other DAG."""
    return dag_id.removeprefix(EXPORT_PREFIX) if dag_id.startswith(EXPORT_PREFIX) else ""


def group_of_dag(dag_id: str) -> str:
    """The group whose DAG this is, or "" for any other DAG (an export's own included)."""
    return dag_id.removeprefix(GROUP_PREFIX) if dag_id.startswith(GROUP_PREFIX) else ""


def is_ferry_run(dag_id: str) -> bool:
    """An export's, an import's or a group's DAG: the runs Ferry records."""
    return dag_id.startswith((EXPORT_PREFIX, IMPORT_PREFIX, GROUP_PREFIX))
