"""One import run, step by step: what the DAG import__<id> and `ferry run --local` follow.

    wait_for_file -> load -> finalize

- wait_for_file: look for the run's files every wait.poke_interval, holding no worker
  between looks, until they are whole (ferry.imports.files.find_settled: two looks agree on
  their sizes and modified times); after wait.timeout the run fails, saying which pattern
  was looked for where.
- load: fetch the files into the run's folder (size, sha256), then load them into the
  table in one transaction (ferry.imports.load: types, required columns, expectations,
  rejects, merge/append/overwrite), while a refresh marker of the table tells exports that
  start meanwhile to wait (ferry.refresh).
- finalize: record the run (rows read, inserted, updated, rejected; JobID.RunID), notify,
  move the files it loaded to done_folder; the DAG's finalize emits the table's refresh
  asset, so exports scheduled after refreshes of the table run next.

A run the import's ledger (ferry.imports.ledger) has loaded before is a no-op unless
forced: the wait ends at once (its files may be in done/ by now), load loads nothing and
returns the earlier result marked already_loaded, finalize records it as such. Finalize
only ever moves files the ledger has (same name, size and SHA-256) and only while they
are as listed before the load (same size and modified time): a file that arrived or was
replaced since stays for a run that loads it.

The steps are ferry.pipeline's Steps (no Airflow here); their calls take:
WAIT call(spec, run, force=) -> Ready; PLAN call(run, log=, force=) -> loaded;
FINALIZE call(run, loaded, Ending, log=). ferry.render.imports renders them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferry import paths, pipeline, record, refresh, staging
from ferry.definitions import current_project
from ferry.exceptions import ExportRejected
from ferry.imports import files, ledger
from ferry.pipeline import GroupRun, Kind, Step, Wait
from ferry.record import Ending
from ferry.run_info import RunInfo
from ferry.spec.models import GroupMember, GroupSpec, ImportSpec
from ferry.spec.project import Project


def import_of(import_id: str) -> ImportSpec:
    """An import's definition as it is now.

    Raises:
        ExportRejected: The import is not defined (or has errors).
    """
    spec = current_project().imports.get(import_id)
    if spec is None:
        raise ExportRejected(f"import '{import_id}' is not defined or has errors")
    return spec


def run_folder(run: RunInfo) -> Path:
    """Where a run's fetched files and rejects file go: $FERRY_HOME/imports/<id>/<run>.

    Fetch and load are one task, so the files never have to reach another worker; the
    rejects file, which people open after the run, is kept under staging (kept_rejects).
    """
    return paths.ferry_home() / "imports" / run.export_id / run.safe_run_id


def kept_rejects(run: RunInfo) -> Callable[[Path | None], str | None]:
    """Where the run's rejects file is kept for everyone: with staging on S3, published to
    <staging prefix>/_imports/<id>/<run>/ (its s3:// URL recorded, which any machine
    opens), a rerun without rejects withdrawing it; with local staging, where it is."""
    remote = staging.shared_remote(staging.IMPORTS_AREA, run.export_id, run.safe_run_id)

    def keep(path: Path | None) -> str | None:
        if remote is None:
            return str(path) if path else None
        if path is None:
            staging.publish_files(remote, run_folder(run), [])
            return None
        staging.publish_files(remote, path.parent, [path.name])
        return remote.object_url(path.name)

    return keep


# wait_for_file: files.find_settled (a sensor in Airflow)


@dataclass(frozen=True)
class Ready:
    """What a look of the wait found: the run's whole files, or that it was loaded before.

    True when the wait is over.
    """

    files: list[files.RemoteFile]
    loaded_before: bool = False

    def __bool__(self) -> bool:
        return self.loaded_before or bool(self.files)


def files_ready(spec: ImportSpec, run: RunInfo, *, force: bool = False) -> Ready:
    """The run's files once whole (none: wait on); at once if the ledger has the run."""
    if not force and ledger.loaded_run(spec.id, run.job_run_id) is not None:
        return Ready([], loaded_before=True)
    return Ready(files.find_settled(spec, run.template_vars()))


def wait_timeout_reason(spec: ImportSpec, values: Mapping[str, Any]) -> str:
    """Why a run stopped waiting: no file matched in time, with what was looked for where."""
    pattern = files.file_pattern(spec, values)
    where = files.place_of(spec).describe()
    waited = dt.timedelta(seconds=spec.wait.timeout)
    return (
        f"Import {spec.id}: no file matching '{pattern}' arrived in {where} within {waited} "
        "(wait.timeout); drop the file and rerun, or raise wait.timeout"
    )


def load(run: RunInfo, *, log: logging.Logger, force: bool = False) -> dict:
    """Fetch the run's files and load them into the table in one transaction.

    A run the ledger has loaded before loads nothing unless force (see _loaded_before).

    Returns:
        loaded: table, mode, files (the loaded ones: name, size, sha256, location,
        modified as listed) and result (ferry.imports.load.ImportResult as a dict), for
        finalize on another worker.

    Raises:
        NoFiles: No file matches now (the wait had found some: moved away meanwhile).
    """
    spec = import_of(run.export_id)
    if not force and (earlier := ledger.loaded_run(spec.id, run.job_run_id)) is not None:
        return _loaded_before(spec, run, earlier, log)
    table = current_project().tables[spec.table]
    remote = files.find(spec, run.template_vars())
    if not remote:
        pattern = files.file_pattern(spec, run.template_vars())
        where = files.place_of(spec).describe()
        raise files.NoFiles(f"Import {spec.id}: no file matching '{pattern}' in {where}")
    folder = run_folder(run)
    local = files.fetch(spec, remote, folder / "files")
    for item in local:
        log.info("Fetched %s: %d bytes, sha256 %s", item.name, item.size, item.sha256)
    from ferry.imports.load import load as load_files  # DuckDB: not at DAG parse time

    with refresh.refreshing([spec.table], holder=run.job_run_id):
        result = load_files(spec, table, local, folder, run_key=run.job_run_id, force=force,
                            log=log, keep_rejects=kept_rejects(run))  # fmt: skip
    return loaded_files(spec, remote, local, dataclasses.asdict(result), log=log)


def _loaded_before(spec: ImportSpec, run: RunInfo, earlier: dict, log: logging.Logger) -> dict:
    """A no-op load: the earlier result, and the files it loaded that are still there.

    A rerun after a finalize that did not move the files finds them again; they are moved
    now if the ledger has them (same name, size, SHA-256). Not finding them is no failure.
    """
    log.info(
        "Import %s: run %s was loaded before (the import's ledger); nothing is loaded again "
        "(force reloads it)", spec.id, run.job_run_id,
    )  # fmt: skip
    result = {**earlier, "already_loaded": True}
    try:
        remote = files.find(spec, run.template_vars())
        local = files.fetch(spec, remote, run_folder(run) / "files") if remote else []
    except files.ImportFilesError as error:
        log.warning("Import %s: not looking for files left behind: %s", spec.id, error)
        return {"table": spec.table, "mode": spec.mode, "files": [], "result": result}
    return loaded_files(spec, remote, local, result, log=log)


def loaded_files(
    spec: ImportSpec,
    remote: list[files.RemoteFile],
    local: list[files.LocalFile],
    result: dict,
    *,
    log: logging.Logger,
) -> dict:
    """What finalize needs of a load, as plain JSON (an XCom between workers).

    Its files are the ones this load took (loaded, or skipped by an append as loaded
    before); for a run loaded before, those the ledger has (same name, size, SHA-256).
    Finalize moves these and no other.
    """
    if result.get("already_loaded"):
        known = ledger.loaded_files(spec.id, local)
    else:
        known = {f.name for f in local}
    listed = []
    for r, f in zip(remote, local, strict=True):
        if f.name in known:
            listed.append({**dataclasses.asdict(r), "sha256": f.sha256})
        else:
            log.warning(
                "Import %s: %s was not loaded by this run; it stays where it is (a run that "
                "loads it moves it; for a run loaded before, force reloads)", spec.id, r.location,
            )  # fmt: skip
    return {"table": spec.table, "mode": spec.mode, "files": listed, "result": result}


def finalize(run: RunInfo, loaded: dict, ending: Ending, *, log: logging.Logger) -> dict:
    """Record the loaded run and notify; then move its loaded files to done_folder.

    The load is committed by now: a file that cannot be moved, or changed since it was
    listed (replaced, to be loaded by the next run), is logged, not a failure.
    """
    spec = import_of(run.export_id)
    done = record.finalize_import(run, spec, loaded, ending, log=log)
    remote = [
        files.RemoteFile(f["name"], f["location"], f["size"], f["modified"])
        for f in loaded["files"]
    ]
    finished = files.finish(spec, remote)
    for moved in finished.moved:
        log.info("Moved a loaded file to %s", moved)
    for reason in finished.left:
        log.warning("Loaded, but the file stays where it is: %s", reason)
    return done


def finalize_failed(run: RunInfo, reason: str, ending: Ending, *, log: logging.Logger):
    """What any step's last failure does: record the import run failed, and notify."""
    spec = current_project().imports.get(run.export_id)
    return record.record_failed(run, reason, spec, None, ending, log=log)


# --- The description


def import_steps(spec: ImportSpec) -> tuple[Step, ...]:
    """The steps of one import run, in order: the DAG import__<id>, and a group member."""
    wait = Wait(
        poke_interval=dt.timedelta(seconds=spec.wait.poke_interval),
        timeout=dt.timedelta(seconds=spec.wait.timeout),
    )
    return (
        Step("wait_for_file", Kind.WAIT, files_ready, backoff=False, wait=wait),
        Step("load", Kind.PLAN, load, ("wait_for_file",)),
        Step("finalize", Kind.FINALIZE, finalize, ("load",)),
    )


def member_steps(member: GroupMember, project: Project) -> tuple[Step, ...]:
    """A group member's own steps: an export's or an import's."""
    if member.kind == "import":
        return import_steps(project.imports[member.job])
    return pipeline.export_steps(project.exports[member.job])


def group_run(group: GroupSpec, project: Project) -> GroupRun:
    """A group of exports and imports, in the order written (ferry.pipeline.group_run)."""
    return pipeline.group_run(group, project.exports, lambda m: member_steps(m, project))
