"""Commands about definitions: validate, schema, list."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ferry import paths
from ferry.spec.loader import Project, load_project

SCHEMA_KINDS = ("export", "import", "segment", "group", "targets", "tables")


def register(subparsers) -> None:
    validate = subparsers.add_parser("validate", help="check every definition; list all errors")
    validate.add_argument(
        "path", nargs="?", type=Path, help="include/ folder (default: FERRY_INCLUDE)"
    )
    validate.add_argument(
        "--live", action="store_true", help="also compare tables.yaml with each live source"
    )
    validate.set_defaults(handler=run_validate)
    schema = subparsers.add_parser("schema", help="print JSON Schemas for editors")
    schema.add_argument("--kind", choices=sorted(SCHEMA_KINDS), default="export")
    schema.add_argument("--out", type=Path, help="write one <kind>.schema.json per kind here")
    schema.set_defaults(handler=run_schema)
    listing = subparsers.add_parser(
        "definitions", help="list the exports and imports defined in include/"
    )
    listing.set_defaults(handler=run_definitions)


class NoDefinitions(Exception):
    """The folder to read definitions from is not a folder."""


def _project(path: Path | None) -> Project:
    folder = path or paths.include_dir()
    if not folder.is_dir():
        where = "the path given" if path else "FERRY_INCLUDE, else the repository's include/"
        raise NoDefinitions(
            f"{folder} is not a folder of definitions ({where}); give the include/ folder "
            "that holds exports/, segments/, groups/, targets.yaml and warehouse/tables.yaml"
        )
    return load_project(folder)


def _said(error: object) -> int:
    print(f"error: {error}", file=sys.stderr)
    return 2


def run_validate(args: argparse.Namespace) -> int:
    """Print every error (not only the first) and exit 1 if there is any, 2 if no folder.

    Offline (definitions only) unless --live, which then opens each source tables.yaml
    names and reports drift (exit 1 on any)."""
    try:
        project = _project(args.path)
    except NoDefinitions as missing:
        return _said(missing)
    offline = _report_offline(project)
    if not getattr(args, "live", False):
        return offline
    from ferry.cli.tables import check_live

    return max(offline, check_live(project))


def _report_offline(project: Project) -> int:
    for error in project.errors:
        print(error)
    counts = (
        f"{len(project.exports)} exports, {len(project.imports)} imports, "
        f"{len(project.segments)} segments, {len(project.groups)} groups"
    )
    if project.errors:
        print(f"{len(project.errors)} error(s) in {len(project.broken)} file(s); {counts} loaded")
        return 1
    print(f"OK: {counts}, {len(project.targets)} targets, {len(project.tables)} tables")
    return 0


def _schema_kinds() -> dict:
    from ferry.spec import models

    return {
        "export": models.ExportSpec,
        "import": models.ImportSpec,
        "segment": models.SegmentSpec,
        "group": models.GroupSpec,
        "targets": models.TargetsFile,
        "tables": models.TablesFile,
    }


def run_schema(args: argparse.Namespace) -> int:
    """JSON Schema (by alias, as written in YAML) for editors' YAML language servers."""
    kinds = _schema_kinds()
    if args.out:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            for kind, model in kinds.items():
                schema = model.model_json_schema(by_alias=True)
                (args.out / f"{kind}.schema.json").write_text(json.dumps(schema, indent=2) + "\n")
        except OSError as error:
            return _said(f"cannot write the schemas to {args.out}: {error.strerror or error}")
        print(f"wrote {len(kinds)} schemas to {args.out}")
        return 0
    print(json.dumps(kinds[args.kind].model_json_schema(by_alias=True), indent=2))
    return 0


def run_definitions(args: argparse.Namespace) -> int:
    try:
        project = _project(None)
    except NoDefinitions as missing:
        return _said(missing)
    print(f"{'ID':32} {'KIND':9} {'SOURCE':28} {'SCHEDULE':12} DESTINATIONS")
    for export in project.exports.values():
        source = next(iter(export.source.model_dump().values()))
        kinds = ",".join(d.label for d in export.destinations)
        print(f"{export.id:32} {export.kind:9} {source:28} {export.schedule:12} {kinds}")
    for spec in project.imports.values():
        source = f"{spec.source.type}: {spec.source.pattern}"[:28]
        print(f"{spec.id:32} {'import':9} {source:28} {spec.schedule:12} table {spec.table}")
    for key in project.broken:
        print(f"{key:32} BROKEN    (ferry validate says why)")
    return 0
