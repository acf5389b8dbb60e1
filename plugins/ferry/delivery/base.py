"""What every destination shares: the Sender interface, the staged run it receives, the
context and receipt, and where files go (the layout of a path template).

No provider import here: this module loads while DAG files parse.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import logging
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, get_args

import jinja2

from ferry.exceptions import Terminal
from ferry.manifest import MANIFEST_NAME, FileMismatch, Manifest, StagedFile
from ferry.plan import CHANGE_KINDS
from ferry.run_info import RunInfo
from ferry.safe_names import path_problem
from ferry.spec.base import Spec
from ferry.spec.models import ExportSpec
from ferry.spec.templates import is_folder, placeholders_of, render_path

LOG = logging.getLogger("ferry.delivery")
D = TypeVar("D", bound=Spec)
_PART_NUMBER = re.compile(r"_(\d+)(?=\.)")
_PART = re.compile(r"(?:[0-9A-Za-z-]+_)?\d+")  # a number, after a chunk_by period


@dataclass(frozen=True)
class DeliveryContext:
    """What a delivery knows about its run, beside the destination and the staged files.

    Attributes:
        export: The export being delivered.
        run: The run (its ids and interval).
        template_vars: Values for path, subject and body templates (ds, ts, run_id, ...).
        try_number: Airflow's try number of the deliver task; 1 on the first try.
    """

    export: ExportSpec
    run: RunInfo
    template_vars: dict
    try_number: int = 1


@dataclass(frozen=True)
class DeliveryReceipt:
    """What went where: returned by deliver() and recorded with the run.

    Attributes:
        destination: The destination's name (its name, or its type when unnamed).
        type: The destination type (s3, sftp, email, webhook, download).
        files: One dict per delivered file: name, location, bytes, sha256.
        rows: Data rows delivered.
        rejects: Records the target refused (webhook).
        detail: Destination-specific facts (no secrets).
    """

    destination: str
    type: str
    files: list[dict]
    rows: int
    rejects: int = 0
    detail: dict = field(default_factory=dict)


class DeliveryError(Exception):
    """A delivery did not complete; the message names the destination and its target.

    Attributes:
        retryable: Whether another task try may succeed. False for refusals and definition
            problems (a bad host key, HTTP 4xx, a changed staged file, too many rejects);
            ferry.exceptions.kind_of reads it to fail those at once and retry the rest.
    """

    retryable = True

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class RejectRateExceeded(DeliveryError, Terminal):
    """The target refused more records than the destination allows; retrying will not help."""

    retryable = False


class StagedFileMismatch(DeliveryError, Terminal):
    """A staged file is missing or differs from the manifest: nothing is sent."""

    retryable = False


@dataclass(frozen=True)
class StagedRun:
    """A staged run as every destination receives it: its files checked against the manifest.

    Attributes:
        folder: The folder holding the staged files and manifest.json.
        manifest: The staged manifest.
        files: Every staged file with its path, checked by name, size and sha256.
        context: The export, the run, template values and the try number.
        log: The task's logger.
    """

    folder: Path
    manifest: Manifest
    files: list[tuple[StagedFile, Path]]
    context: DeliveryContext
    log: logging.Logger

    @classmethod
    def checked(
        cls, folder: Path, manifest: Manifest, context: DeliveryContext, log: logging.Logger
    ) -> StagedRun:
        """The run in folder, after Manifest.verify.

        Raises:
            StagedFileMismatch: A file is missing, outside the folder, or changed.
        """
        try:
            files = manifest.verify(folder)
        except FileMismatch as error:
            raise StagedFileMismatch(str(error)) from error
        return cls(folder, manifest, files, context, log)


class Sender(abc.ABC, Generic[D]):
    """One destination type: the config model it takes, and how it sends a staged run.

    A subclass sets `config` to its model in ferry.spec.destinations (whose `type` literal
    names the destination type) and implements send(). Provider hooks are imported inside
    send: senders load while DAG files parse.
    """

    config: ClassVar[type[Spec]]

    def __init__(self, destination: D) -> None:
        if not isinstance(destination, self.config):
            raise TypeError(
                f"{type(self).__name__} sends to {self.config.__name__}, not "
                f"{type(destination).__name__}"
            )
        self.destination = destination

    @classmethod
    def destination_type(cls) -> str:
        """The `type` value of the config model (s3, sftp, ...)."""
        (value,) = get_args(cls.config.model_fields["type"].annotation)
        return value

    @abc.abstractmethod
    def send(self, run: StagedRun) -> DeliveryReceipt:
        """Send the run's files, the manifest last; say what went where."""


@dataclass(frozen=True)
class Outgoing:
    """One staged file and where it goes at the destination."""

    staged: StagedFile
    source: Path
    target: str


@dataclass(frozen=True)
class Layout:
    """Where a run's files and its manifest go at a destination.

    Attributes:
        files: Data files and sidecars, in manifest order.
        manifest_target: Where the manifest goes; it is written last, as the commit marker.
        manifest: The manifest as delivered: file names relative to the manifest's folder.
    """

    files: list[Outgoing]
    manifest_target: str
    manifest: Manifest


def template_values(context: DeliveryContext, **extra: Any) -> dict[str, Any]:
    """The values a template may use, with export_id and export_name always present."""
    values = {"export_id": context.export.id, "export_name": context.export.name}
    values.update({k: v for k, v in context.template_vars.items() if v is not None})
    return {**values, **extra}


def plan_layout(
    template: str,
    run: StagedRun,
    *,
    absolute: bool,
) -> Layout:
    """Render a destination path template into a target for each staged file.

    A folder template receives every file under its staged name and manifest.json. A
    per-file template ({{ part }} or {{ file }}) places each data file; sidecars and the
    manifest go beside the data, prefixed with the JobID.RunID so that runs sharing a
    folder never overwrite each other's.

    Args:
        template: The destination's path template.
        run: The staged run (its checked files, manifest and template values).
        absolute: Whether the destination accepts absolute paths (SFTP does, S3 keys not).

    Raises:
        DeliveryError: A rendered path leaves the destination (a value such as a manual
            run id held '..'), or two files would land on the same target.
    """
    try:
        outgoing, manifest_target = _targets(template, run.files, run.context)
    except (jinja2.TemplateError, ValueError) as error:  # incl. TemplateValueError
        raise DeliveryError(
            f"path template {template!r}: {error}; nothing is sent", retryable=False
        ) from error
    targets = [item.target for item in outgoing] + [manifest_target]
    for target in targets:
        _check_rendered(target, template, absolute=absolute)
    if len(set(targets)) != len(targets):
        raise DeliveryError(
            f"path template {template!r} sends two files to the same place", retryable=False
        )
    return Layout(
        outgoing, manifest_target, delivered_manifest(run.manifest, outgoing, manifest_target)
    )


def _targets(
    template: str, checked: list[tuple[StagedFile, Path]], context: DeliveryContext
) -> tuple[list[Outgoing], str]:
    if not is_folder(template):
        return _per_file_layout(template, checked, context)
    folder = render_path(template, template_values(context)).rstrip("/")
    join = (lambda name: f"{folder}/{name}") if folder else (lambda name: name)
    outgoing = [Outgoing(staged, path, join(staged.name)) for staged, path in checked]
    return outgoing, join(MANIFEST_NAME)


def _check_rendered(path: str, template: str, *, absolute: bool) -> None:
    """Template values come from runs (a manual run id is free text): check the result too."""
    problem = path_problem(path, absolute=absolute)
    if problem:
        raise DeliveryError(
            f"path {path!r} rendered from {template!r} {problem}; it could leave the "
            "destination, so nothing is sent",
            retryable=False,
        )


def _per_file_layout(
    template: str, checked: list[tuple[StagedFile, Path]], context: DeliveryContext
) -> tuple[list[Outgoing], str]:
    per_file = "file" in placeholders_of(template)
    folder = posixpath.dirname(_render_for(template, "manifest.json", 0, context))
    prefix = f"{folder}/{context.run.job_run_id}." if folder else f"{context.run.job_run_id}."
    outgoing, part = [], 0
    for staged, path in checked:
        if staged.kind == "data" or per_file:
            part += staged.kind == "data"
            target = _render_for(template, staged.name, part, context)
        else:
            target = prefix + staged.name
        outgoing.append(Outgoing(staged, path, target))
    if per_file:  # the template names every file, the manifest included
        return outgoing, _render_for(template, MANIFEST_NAME, 0, context)
    return outgoing, prefix + MANIFEST_NAME


def _render_for(template: str, name: str, position: int, context: DeliveryContext) -> str:
    part = _part_of(name, context.export.file_name, position)
    ext = name.split(".", 1)[1] if "." in name else ""
    return render_path(template, template_values(context, part=part, file=name, ext=ext))


def _part_of(name: str, stem: str, position: int) -> str:
    """What tells the run's data files apart: <stem>_<part>.<ext>, the part being the number,
    after the period of a chunk_by export (2026-W05_00001), so each lands in its own place;
    a changes export's file sets <kind>_<stem>_<number> carry their kind (added_00001)."""
    for kind, named in (("", stem), *((f"{k}_", f"{k}_{stem}") for k in CHANGE_KINDS)):
        if name.startswith(f"{named}_"):
            part = name[len(named) + 1 :].split(".", 1)[0]
            if _PART.fullmatch(part):
                return kind + part
    found = _PART_NUMBER.findall(name)
    return found[-1] if found else f"{position:05d}"


def delivered_manifest(
    manifest: Manifest, outgoing: list[Outgoing], manifest_target: str
) -> Manifest:
    """The manifest with each file named as delivered, relative to the manifest's folder."""
    folder = posixpath.dirname(manifest_target) or "."
    renamed = {item.staged.name: posixpath.relpath(item.target, folder) for item in outgoing}
    files = [dataclasses.replace(s, name=renamed.get(s.name, s.name)) for s in manifest.files]
    return dataclasses.replace(manifest, files=files)


def manifest_bytes(manifest: Manifest) -> bytes:
    return manifest.to_json().encode("utf-8")


def left_by_earlier_try(previous: bytes | None, layout: Layout) -> list[str]:
    """Targets an earlier try of the same run delivered and this try does not replace.

    previous is the manifest found at the manifest's target. Files of another run are
    never named: a folder shared by runs keeps what other runs sent.
    """
    try:
        earlier = Manifest.from_dict(json.loads(previous)) if previous else None
    except (ValueError, KeyError, TypeError):
        return []
    if earlier is None or earlier.job_run_id != layout.manifest.job_run_id:
        return []
    folder = posixpath.dirname(layout.manifest_target)
    replaced = {item.target for item in layout.files} | {layout.manifest_target}
    # the manifest found there is not ours to trust: only names below its folder count
    names = [f.name for f in earlier.files if path_problem(f.name, absolute=False) is None]
    targets = [posixpath.join(folder, name) if folder else name for name in names]
    return [t for t in targets if t not in replaced]


def file_record(name: str, location: str, staged: StagedFile) -> dict[str, Any]:
    """A receipt's entry for one delivered file."""
    return {"name": name, "location": location, "bytes": staged.bytes, "sha256": staged.sha256}
