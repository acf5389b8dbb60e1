"""The manifest: what a run staged, and the commit marker deliveries write last.

The engine writes manifest.json beside the staged files; every destination reads it to
know what to send and checks each file's sha256 before and after sending.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ferry.exceptions import Terminal

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class StagedFile:
    """One data file (or a sidecar such as schema.json) with its size and digest."""

    name: str
    rows: int
    bytes: int
    sha256: str
    kind: str = "data"  # data | schema | field_mapping | rejects


@dataclass(frozen=True)
class Manifest:
    """Everything a destination needs to know about a staged run."""

    export_id: str
    job_run_id: str
    run_id: str
    format: str
    compression: str
    files: list[StagedFile]
    schema: list[dict[str, str]]
    field_mapping: list[dict[str, Any]]
    rows: int = 0
    bytes: int = 0
    validation: dict[str, Any] = field(default_factory=dict)

    @property
    def data_files(self) -> list[StagedFile]:
        return [staged for staged in self.files if staged.kind == "data"]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        files = [StagedFile(**item) for item in data["files"]]
        return cls(**{**data, "files": files})

    def write(self, folder: Path) -> Path:
        """Write manifest.json atomically: a reader sees the old one or the new one."""
        target = folder / MANIFEST_NAME
        temporary = folder / f".{MANIFEST_NAME}.tmp"
        temporary.write_text(self.to_json(), encoding="utf-8")
        temporary.replace(target)
        return target


class ManifestMissing(FileNotFoundError, Terminal):
    """A staged run without its manifest: extract did not finish; another try cannot fix it."""


def read_manifest(folder: Path) -> Manifest:
    """Read the manifest of a staged run; a missing one means extract did not finish."""
    path = folder / MANIFEST_NAME
    if not path.exists():
        raise ManifestMissing(f"no {MANIFEST_NAME} in {folder}: the extract step did not finish")
    return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))


def sha256_of(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()
