"""A private copy of the repo's include/, for tests that add or break definitions."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_include(folder: Path) -> Path:
    """Copy include/ (definitions, targets, tables; not the warehouse file) to folder/include."""
    target = folder / "include"
    shutil.copytree(ROOT / "include", target, ignore=shutil.ignore_patterns("*.duckdb*"))
    return target
