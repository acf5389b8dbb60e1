"""extract: the export's source read once, in one snapshot, written as chunked staged files.

DuckDB reads rows in a reader thread while the calling thread renders CSV lines (in C,
where lines_native can), compresses and writes, so on two cores the query and the codec
run side by side (all of them release the GIL).
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import shutil
import threading
from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from ferry.engine import formats, lines_native, periods, pii, query
from ferry.engine.changes import ChangeState, write_changes
from ferry.engine.progress import Progress
from ferry.engine.read import open_reader
from ferry.engine.writers import Chunker
from ferry.manifest import MANIFEST_NAME, Manifest, StagedFile, sha256_of
from ferry.plan import CHANGE_COLUMN, ExportPlan
from ferry.sql import Sql

if TYPE_CHECKING:
    from ferry.sources import Source

LOG = logging.getLogger("ferry.engine")
PREFETCH = 4  # batches read ahead, about one key slice: DuckDB sorts the next meanwhile
_DONE = object()


def extract(
    plan: ExportPlan, *, source: Source | Path, pii_key: bytes | None,
    log: logging.Logger | None = None, changes: ChangeState | None = None,
) -> Manifest:  # fmt: skip
    """Write the export's files and manifest.json (last, the commit marker) to staging.

    Whatever an earlier try left in plan.staging_dir is removed first: a rerun replaces.

    Args:
        plan: The run's plan; files go to plan.staging_dir.
        source: Where the table lives (ferry.sources), or the path of a DuckDB file.
        pii_key: The secret for hash and tokenize (the ferry_pii connection's password).
        log: Where progress and the summary go; the ferry.engine logger by default.
        changes: A changes-only export's state to diff against (ferry.engine.changes).

    Returns:
        The manifest, as written to manifest.json.

    Raises:
        MissingPiiKeyError: a column is hashed or tokenized and pii_key is None.
    """
    log = log or LOG
    pii.require_key(plan.columns, pii_key)
    folder = _fresh_folder(Path(plan.staging_dir))
    if plan.changes is not None:  # only what changed since the state delivered last
        if changes is None:
            raise ValueError("a changes-only export's extract needs its ChangeState")
        files, counts = write_changes(plan, source, pii_key, changes, log)
        manifest = replace(_manifest(plan, files + _sidecars(plan, folder)), changes=counts)
        manifest.write(folder)
        _log_summary(log, manifest, len(files), 0.0)
        return manifest
    fields = formats.fields_of(plan.columns, query.output_types(plan))
    lines = lines_native.for_format(plan.format, fields)

    def select_of(relation: query.Relation) -> Sql:
        return query.formatted_select(plan, query.typed_select(plan, pii_key, relation), fields,
                                      lines)  # fmt: skip

    with open_reader(plan, source) as reader:
        found = reader.stats()
        schema = query.result_schema(reader, select_of(reader.relation))
        log.info("extract %s: %s rows of %s into %s", plan.run.job_run_id, f"{found.rows:,}",
                 plan.table, folder)  # fmt: skip
        progress = Progress(log, found.rows)
        files = []
        for part in periods.file_sets(plan, reader, found):  # one without chunk_by
            select = select_of(part.reader.relation)
            batches = query.read_batches(part.reader, select, query.key_slices(part.found))
            files += _write_files(plan, _rendered(batches, lines), schema, progress, part.name)
    if not found.rows:
        log.info("extract %s: the result is empty; wrote one empty file", plan.run.job_run_id)
    manifest = _manifest(plan, files + _sidecars(plan, folder))
    manifest.write(folder)
    _log_summary(log, manifest, len(files), progress.seconds)
    return manifest


def _fresh_folder(folder: Path) -> Path:
    """An empty staging folder; the old manifest goes first so no reader trusts old files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST_NAME).unlink(missing_ok=True)
    for entry in folder.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    return folder


def _write_files(
    plan: ExportPlan, batches: Generator[pa.RecordBatch], schema: pa.Schema,
    progress: Progress, file_name: str,
) -> list[StagedFile]:  # fmt: skip
    names = [column.name for column in plan.columns]
    chunker = Chunker(Path(plan.staging_dir), file_name, plan.format, schema, names)
    # closed on a writer's failure too: the reader thread must leave DuckDB before the
    # connection closes, or the user sees "connection is busy" instead of the failure
    with contextlib.closing(batches):
        for batch in batches:
            chunker.write(batch)
            progress.add(batch.num_rows)
    return chunker.finish()


def _rendered(
    batches: Iterator[pa.RecordBatch], lines: formats.NativeLines | None
) -> Iterator[pa.RecordBatch]:
    """The batches as the writers take them, read ahead in a thread.

    Lines rendered in C (lines_native) are rendered here, in the writer's thread: in the
    reader's thread they would stall DuckDB, which produces rows only when asked, and a
    stage of their own kept two more batches in memory (~30 MiB) for no measurable gain.
    """
    with contextlib.closing(_prefetched(batches)) as prefetched:
        for batch in prefetched:
            yield batch if lines is None else lines.render(batch)


def _prefetched(items: Iterator) -> Iterator:
    """Run the iterator in a thread, PREFETCH items ahead of the consumer."""
    buffer: queue.Queue = queue.Queue(PREFETCH)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                buffer.put(item)
            buffer.put(_DONE)
        except BaseException as error:  # handed to the consumer, which raises it
            buffer.put(error)

    thread = threading.Thread(target=produce, name="ferry-reader", daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        _drain(buffer, thread)


def _drain(buffer: queue.Queue, thread: threading.Thread) -> None:
    """Let a producer blocked on a full queue see the stop flag and end."""
    while thread.is_alive():
        with contextlib.suppress(queue.Empty):
            buffer.get(timeout=0.1)
    thread.join()


def schema_of(plan: ExportPlan) -> list[dict[str, str]]:
    schema = [{"name": c.name, "type": pii.output_type(c)} for c in plan.columns]
    if plan.changes is not None and plan.changes.output == "column":
        schema.append({"name": CHANGE_COLUMN, "type": "VARCHAR"})
    return schema


def field_mapping_of(plan: ExportPlan) -> list[dict]:
    """Where each output column comes from and what was done to it."""
    mapping = [
        {"source": c.source, "name": c.name, "type": c.type, "pii": c.pii.action if c.pii else None}
        for c in plan.columns
    ]
    mapping += [{"source": name, "name": None, "pii": "exclude"} for name in plan.excluded_pii]
    return mapping


def _sidecars(plan: ExportPlan, folder: Path) -> list[StagedFile]:
    """schema.json and field_mapping.json, delivered beside a data-out export's data."""
    if plan.export.kind != "data_out":
        return []
    sidecars = {"schema": schema_of(plan), "field_mapping": field_mapping_of(plan)}
    staged = []
    for kind, content in sidecars.items():
        path = folder / f"{kind}.json"
        path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", "utf-8")
        staged.append(StagedFile(path.name, 0, path.stat().st_size, sha256_of(path), kind))
    return staged


def _manifest(plan: ExportPlan, files: list[StagedFile]) -> Manifest:
    data = [staged for staged in files if staged.kind == "data"]
    return Manifest(
        export_id=plan.export.id,
        job_run_id=plan.run.job_run_id,
        run_id=plan.run.run_id,
        format=plan.format.type,
        compression=plan.format.compression,
        files=files,
        schema=schema_of(plan),
        field_mapping=field_mapping_of(plan),
        rows=sum(staged.rows for staged in data),
        bytes=sum(staged.bytes for staged in data),
    )


def _log_summary(log: logging.Logger, manifest: Manifest, files: int, seconds: float) -> None:
    rate = manifest.rows / seconds if seconds > 0 else 0.0
    log.info(
        "extract %s done: %s rows, %d files, %s bytes in %.1f s (%s rows/s)",
        manifest.job_run_id, f"{manifest.rows:,}", files, f"{manifest.bytes:,}", seconds,
        f"{rate:,.0f}",
    )  # fmt: skip
