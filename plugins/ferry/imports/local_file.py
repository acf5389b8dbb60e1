"""A file fetched for an import, on the worker's disk (the lead unifies it with files.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LocalFile:
    """A fetched file: where it is, its name at the source, its size and SHA-256 (hex)."""

    path: Path
    name: str
    size: int
    sha256: str
