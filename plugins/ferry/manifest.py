"""The manifest: what a run staged, and the commit marker deliveries write last.

The engine writes manifest.json beside the staged files; every destination reads it to
know what to send, and the manifest checks that a folder holds exactly the bytes it names
(Manifest.verify) before anything is sent or fetched.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ferry.exceptions import Terminal
from ferry.safe_names import segment_problem

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class StagedFile:
    """One data file (or a sidecar such as schema.json) with its size and digest."""

    name: str
    rows: int
    bytes: int
    sha256: str
    kind: str = "data"  # data | schema | field_mapping | rejects

    def mismatch(self, path: Path) -> FileMismatch | None:
        """Why the file at path is not this entry's bytes (missing, or size or sha256), if so."""
        if not path.is_file():
            return FileMismatch(self, path, "missing")
        size = path.stat().st_size
        digest = sha256_of(path) if size == self.bytes else None
        if size == self.bytes and digest == self.sha256:
            return None
        return FileMismatch(self, path, "changed", found=(size, digest or sha256_of(path)))


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
    # a changes-only export's rows by kind: {"added": n, "changed": n, "removed": n}
    changes: dict[str, int] | None = None

    @property
    def data_files(self) -> list[StagedFile]:
        return [staged for staged in self.files if staged.kind == "data"]

    def check_names(self) -> None:
        """Every entry names a plain file in the run's folder: none can point elsewhere.

        Raises:
            FileMismatch: An entry's name is empty, '.', '..', or holds a separator.
        """
        for staged in self.files:
            if segment_problem(staged.name):
                raise FileMismatch(staged, None, "outside")

    def verify(self, folder: Path) -> list[tuple[StagedFile, Path]]:
        """Every entry with its path in folder, after checking name, presence, size and sha256.

        Raises:
            FileMismatch: An entry names a file outside the folder, or its file is
                missing or holds other bytes than the manifest says.
        """
        self.check_names()
        checked = []
        for staged in self.files:
            path = folder / staged.name
            problem = staged.mismatch(path)
            if problem is not None:
                raise problem
            checked.append((staged, path))
        return checked

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


class FileMismatch(Terminal):
    """A manifest entry its folder does not hold as named; the run must be extracted again.

    Attributes:
        staged: The manifest's entry.
        path: Where the file was looked for (None when its name points outside the run).
        problem: "outside", "missing" or "changed".
        found: The size and sha256 found, when changed.
    """

    def __init__(
        self,
        staged: StagedFile,
        path: Path | None,
        problem: str,
        *,
        found: tuple[int, str] | None = None,
    ) -> None:
        self.staged, self.path, self.problem, self.found = staged, path, problem, found
        super().__init__(self.describe(str(path), "the manifest"))

    def describe(self, file_at: str, manifest_at: str) -> str:
        """The message, naming the file and the manifest where the reader knows them."""
        if self.problem == "outside":
            return f"{manifest_at} names a file outside the run: {self.staged.name!r}"
        if self.problem == "missing":
            return f"staged file {file_at} is missing"
        size, digest = self.found or (0, "")
        return (
            f"staged file {file_at} does not match {manifest_at}: it holds {size} bytes with "
            f"sha256 {digest}, the manifest says {self.staged.bytes} bytes with sha256 "
            f"{self.staged.sha256}; it changed after extract: rerun the extract"
        )


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
