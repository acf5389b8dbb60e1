"""A loaded include/: its valid definitions by id, and the errors of what did not load."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferry.spec import models
from ferry.spec.errors import DefinitionError
from ferry.spec.models import (
    ExportSpec,
    GroupSpec,
    ImportSpec,
    SegmentSpec,
    TableSpec,
    TargetSpec,
)
from ferry.spec.reader import broken_key


@dataclass
class Project:
    """Everything under include/ that loaded, and what did not."""

    root: Path
    tables: dict[str, TableSpec] = field(default_factory=dict)
    targets: dict[str, TargetSpec] = field(default_factory=dict)
    segments: dict[str, SegmentSpec] = field(default_factory=dict)
    exports: dict[str, ExportSpec] = field(default_factory=dict)
    groups: dict[str, GroupSpec] = field(default_factory=dict)
    imports: dict[str, ImportSpec] = field(default_factory=dict)
    # connections.yaml: who may use each connection (spec.connections.ConnectionSharing)
    connections: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    errors: list[DefinitionError] = field(default_factory=list)
    broken: dict[str, list[DefinitionError]] = field(default_factory=dict)  # by broken_key
    # tables/targets with errors of their own, by file field then name: their raw data
    broken_entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def mark_broken(self, path: Path, errors: list[DefinitionError]) -> str:
        """Record a file's errors; returns its broken_key (which names its error DAG)."""
        self.errors.extend(errors)
        key = broken_key(path)
        self.broken[key] = self.broken.get(key, []) + errors
        return key

    def table_of(self, export: ExportSpec) -> str:
        """The table an export (or report) reads: its own, or the one of its segment's type."""
        if isinstance(export.source, models.TableSource | models.ReportSource):
            return export.source.table
        if export.contacts_of_accounts:
            return self.table_for_segment_type("contact")
        return self.table_for_segment_type(self.segments[export.source.segment].type)

    def table_for_segment_type(self, segment_type: str) -> str:
        """The team's table of a segment type (tables.yaml segment_type:; one per type,
        the loader refuses a second)."""
        for name, table in self.tables.items():
            if table.segment_type == segment_type:
                return name
        raise KeyError(f"no table in tables.yaml has segment_type {segment_type}")
