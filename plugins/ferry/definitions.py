"""The definitions as they are on disk now: the one owner of the loaded Project at run time.

Tasks, the listener and the CLI ask here; a task process reloads only when a file under
include/ changed since it last loaded.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ferry import paths
from ferry.spec.loader import Project, load_project


@functools.cache
def _project_at(root: Path, stamp: float) -> Project:
    return load_project(root)


def current_project() -> Project:
    """The definitions as they are now on disk (reloaded when a file changes)."""
    root = paths.include_dir()
    stamp = max((p.stat().st_mtime for p in root.rglob("*.y*ml")), default=0.0)
    return _project_at(root, stamp)
