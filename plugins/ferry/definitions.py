"""The definitions as they are on disk now: the one owner of the loaded Project at run time.

Tasks, the listener, the CLI and the Exports page ask here; a process reloads only when a
file under include/ was added, changed or removed since it last loaded.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

from ferry import paths
from ferry.spec.loader import Project, load_project


@functools.lru_cache(maxsize=4)  # a few include/ folders (tests), not every version seen
def _project_at(root: Path, stamp: frozenset) -> Project:
    return load_project(root)


def current_project() -> Project:
    """The definitions as they are now on disk (reloaded when a file is added, changed or
    removed: the newest time alone misses a removed file that was not the newest)."""
    root = paths.include_dir()
    return _project_at(root, frozenset(_stamps(root)))


def _stamps(root: Path):
    for path in root.rglob("*.y*ml"):
        with contextlib.suppress(FileNotFoundError):  # removed while we looked: not there
            found = path.stat()  # size too: two writes within the clock's tick share a time
            yield str(path), found.st_mtime_ns, found.st_size
