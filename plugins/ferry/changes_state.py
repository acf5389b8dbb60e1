"""The state of a changes-only export: what its last fully delivered run sent, per export.

A state is a Parquet file of (key, fingerprint) in key order (ferry.engine.changes). Each
export keeps its own, beside the run history: in $FERRY_HOME/changes/<export id>/, or,
when FERRY_STAGING is on S3, under <staging prefix>/_changes/<export id>/ so any worker
reads it (no export id starts with _):

    head.json              the committed state: {state, run, generation}
    states/<run>.<n>.parquet   committed states (the head's, and bases still needed)
    pending/<run>.parquet  a run's new state, staged by extract, never delivered
    bases/<run>.json       the head a run diffed against, so a rerun sends the same changes
    lease.json             the run under way, one at a time (ferry.changes_lease)

extract records the run's base (the head at its first try) and stages its new state as
pending; finalize, which runs only once every destination succeeded, commits it (unless a
destination rejected records: see settle): the state file first, head.json last (each
written atomically: a local rename, one S3 PUT).
head.json is compared and swapped: read and replaced under an flock of the export's folder,
or on S3 by a PUT conditional on the ETag read (If-Match; If-None-Match * when absent),
decided again when another writer came first. The group DAG and the export's own DAG can
run the same export at once: the lease, taken at extract and released when the run is
settled, keeps the second out until the first is done. Should two runs still commit on one
base (a lease expired under a run), the first moves the head, the second leaves it, and
the next run resends what that second sent.
A failed delivery commits nothing, so the next run diffs against the same head and sends
these changes again with newer ones. The head moves only from the run's own base (or
stays on the run, when a committed run is rerun): a rerun of an older run, or a run that
a reset overtook, never moves it back. The last KEEP_BASES runs' bases are kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ferry import changes_lease, paths
from ferry.exceptions import ExportSkipped
from ferry.safe_names import segment_problem
from ferry.staging.location import Remote, parse_root

if TYPE_CHECKING:
    from ferry.engine.changes import ChangeState
    from ferry.plan import ExportPlan
    from ferry.run_info import RunInfo

LOG = logging.getLogger("ferry.changes")
LOCAL_DIR = "changes"  # under $FERRY_HOME
REMOTE_DIR = "_changes"  # under the S3 staging prefix
KEEP_BASES = 20
HEAD = "head.json"
SWAP_TRIES = 5
CONFLICTS = ("PreconditionFailed", "ConditionalRequestConflict")  # S3's 412 and 409
Change = Callable[[bytes | None], bytes | None]


@dataclass(frozen=True)
class Head:
    """The committed state: its file under states/ (None: send every row), the run that
    committed it, and the number of resets so far."""

    state: str | None = None
    run: str | None = None
    generation: int = 0

    def same(self, other: Head) -> bool:
        return (self.state, self.generation) == (other.state, other.generation)


class _Local:
    """A folder; every write is a rename of a finished temporary file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)

    def read(self, name: str) -> bytes | None:
        path = self.root / name
        return path.read_bytes() if path.is_file() else None

    def write(self, name: str, body: bytes) -> None:
        path = self._ready(name)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "wb") as stream:
            stream.write(body)
        Path(temporary).replace(path)

    def swap(self, name: str, change: Change) -> bytes | None:
        """Replace the file by change(its bytes) (None: leave it), holding an flock on the
        folder from the read to the rename, so no other swap reads or writes in between."""
        self.root.mkdir(parents=True, exist_ok=True)
        folder = os.open(self.root, os.O_RDONLY)
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            body = change(self.read(name))
            if body is not None:
                self.write(name, body)
            return body
        finally:
            os.close(folder)  # releases the lock

    def put_file(self, name: str, source: Path) -> None:
        path = self._ready(name)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        shutil.copyfile(source, temporary)
        temporary.replace(path)

    def copy(self, name: str, target: str) -> None:
        self.put_file(target, self.root / name)

    def local_path(self, name: str, folder: Path) -> Path | None:
        path = self.root / name
        return path if path.is_file() else None

    def names(self, folder: str) -> list[str]:
        found = self.root / folder
        if not found.is_dir():
            return []
        return sorted(p.name for p in found.iterdir() if p.is_file() and p.name[0] != ".")

    def delete(self, names: list[str]) -> None:
        for name in names:
            (self.root / name).unlink(missing_ok=True)

    def _ready(self, name: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


class _Remote:
    """An S3 prefix, through ferry.s3 (imported here: not at DAG parse time)."""

    def __init__(self, remote: Remote) -> None:
        from ferry import s3

        self.remote, self.s3 = remote, s3
        self.bucket = s3.Bucket(remote.conn_id, remote.bucket)
        self.where = remote.object_url()

    def read(self, name: str) -> bytes | None:
        try:
            return self.bucket.get(self.remote.key(name))
        except self.s3.S3Missing:
            return None

    def write(self, name: str, body: bytes) -> None:
        self.bucket.put(self.remote.key(name), body)

    def put_file(self, name: str, source: Path) -> None:
        self.bucket.upload(source, self.remote.key(name))

    def swap(self, name: str, change: Change) -> bytes | None:
        """Replace the object by change(its bytes) (None: leave it) with a conditional PUT:
        If-Match the ETag read (If-None-Match * when there was none); when another writer
        came between, read again and decide again."""
        key = self.remote.key(name)
        for _ in range(SWAP_TRIES):
            body, etag = self._read_tagged(key)
            new = change(body)
            if new is None:
                return None
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                self.bucket.put(key, new, **condition)
                return new
            except self.s3.S3Error as error:
                if error.code not in CONFLICTS:
                    raise
        raise self.s3.S3Failed(f"{self.where}/{name} kept changing under {SWAP_TRIES} writes")

    def _read_tagged(self, key: str) -> tuple[bytes | None, str | None]:
        try:
            with self.s3.s3_errors():
                found = self.bucket.client.get_object(Bucket=self.remote.bucket, Key=key)
                return found["Body"].read(), found["ETag"]
        except self.s3.S3Missing:
            return None, None

    def copy(self, name: str, target: str) -> None:
        with self.s3.s3_errors():
            self.bucket.client.copy_object(
                Bucket=self.remote.bucket, Key=self.remote.key(target),
                CopySource={"Bucket": self.remote.bucket, "Key": self.remote.key(name)},
            )  # fmt: skip

    def local_path(self, name: str, folder: Path) -> Path | None:
        path = folder / Path(name).name
        try:
            self.bucket.download(self.remote.key(name), path)
        except self.s3.S3Missing:
            return None
        return path

    def names(self, folder: str) -> list[str]:
        found = self.bucket.list(self.remote.key(folder) + "/")
        return sorted(name for name in found if "/" not in name)

    def delete(self, names: list[str]) -> None:
        if names:
            self.bucket.delete([self.remote.key(name) for name in names])


class StateStore:
    """One export's states (see the module's docstring)."""

    def __init__(self, export_id: str) -> None:
        problem = segment_problem(export_id)
        if problem:  # it names a folder: one that pointed elsewhere would share a state
            raise ValueError(f"{export_id!r} cannot name an export's state: it {problem}")
        root = parse_root(paths.staging_root())
        if isinstance(root, Remote):
            self.files: _Local | _Remote = _Remote(root.child(REMOTE_DIR, export_id))
        else:
            self.files = _Local(paths.ferry_home() / LOCAL_DIR / export_id)
        self.export_id = export_id

    def head(self) -> Head:
        return self._head(HEAD) or Head()

    def base_for(self, run: str) -> Head:
        """The head this run diffs against: the one recorded at its first try, else now's."""
        recorded = self._head(f"bases/{run}.json")
        if recorded is not None:
            return recorded
        head = self.head()
        stamp = dt.datetime.now(dt.UTC).isoformat()
        self.files.write(f"bases/{run}.json", _json({**asdict(head), "recorded_at": stamp}))
        return head

    def base_file(self, base: Head, folder: Path) -> Path | None:
        """The base's Parquet file, on this machine (downloaded into folder from S3)."""
        if base.state is None:
            return None
        path = self.files.local_path(f"states/{base.state}", folder)
        if path is None:
            raise FileNotFoundError(
                f"the state {base.state} of export {self.export_id} is missing from "
                f"{self.files.where}; `ferry reset {self.export_id}` sends every row next time"
            )
        return path

    def stage(self, run: str, path: Path) -> None:
        """Keep the run's new state as pending, until finalize commits it."""
        self.files.put_file(f"pending/{run}.parquet", path)

    def commit(self, run: str, log: logging.Logger = LOG) -> str:
        """Make the run's pending state the head (when the head has not moved past the run's
        base); say what was done."""
        pending = f"pending/{run}.parquet"
        if f"{run}.parquet" not in self.files.names("pending"):
            return f"no pending state for run {run}: already committed"
        base = self.base_for(run)
        state = f"{run}.{uuid.uuid4().hex[:12]}.parquet"
        self.files.copy(pending, f"states/{state}")
        seen: list[Head] = []

        def move(body: bytes | None) -> bytes | None:
            head = _parse(body) or Head()
            seen.append(head)
            if head.same(base) or head.run == run:
                return _json(asdict(Head(state, run, head.generation)))
            return None  # another run or a reset came first: the next run resends

        if self.files.swap(HEAD, move) is not None:
            said = f"committed the state of run {run}: the next run sends changes since it"
        else:
            head = seen[-1]
            said = f"kept the head at run {head.run or '(reset)'}: it moved after run {run} began"
        self.files.delete([pending])
        self._collect()
        log.info("Changes state of %s: %s (%s)", self.export_id, said, self.files.where)
        return said

    def reset(self) -> tuple[Head, Head]:
        """Forget the committed state: the next run sends every row as added."""
        seen: list[Head] = []

        def forget(body: bytes | None) -> bytes:
            seen.append(_parse(body) or Head())
            return _json(asdict(Head(None, None, seen[-1].generation + 1)))

        after = _parse(self.files.swap(HEAD, forget))
        self._collect()
        return seen[-1], after

    def _head(self, name: str) -> Head | None:
        return _parse(self.files.read(name))

    def _collect(self) -> None:
        """Drop bases beyond the last KEEP_BASES runs, then states no one refers to.

        States and pending files are listed before the head is read: a state another run is
        committing still has its pending file then (it goes after the head moved), so it is
        kept; without one, its head move is over and the head read after shows it."""
        pending, states = self.files.names("pending"), self.files.names("states")
        committing = {name.removesuffix(".parquet") for name in pending}
        bases = [(self._recorded_at(name), name) for name in self.files.names("bases")]
        bases.sort(reverse=True)
        kept, dropped = bases[:KEEP_BASES], bases[KEEP_BASES:]
        self.files.delete([f"bases/{name}" for _, name in dropped])
        needed = {self.head().state} | {self._head(f"bases/{name}").state for _, name in kept}
        runs = {name.removesuffix(".json") for _, name in kept}
        self.files.delete(
            [
                f"states/{name}"
                for name in states
                if name not in needed and name.rsplit(".", 2)[0] not in committing
            ]
            + [f"pending/{name}" for name in pending if name.removesuffix(".parquet") not in runs]
        )

    def _recorded_at(self, name: str) -> str:
        body = self.files.read(f"bases/{name}")
        return json.loads(body).get("recorded_at", "") if body else ""


def _parse(body: bytes | None) -> Head | None:
    if body is None:
        return None
    data = json.loads(body)
    return Head(data.get("state"), data.get("run"), int(data.get("generation", 0)))


def _json(data: dict) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


@contextlib.contextmanager
def for_extract(plan: ExportPlan, *, log: logging.Logger = LOG) -> Iterator[ChangeState | None]:
    """The run's ChangeState (None for an export of every row); once the block succeeds,
    the new state is staged as the run's pending state."""
    if plan.changes is None:
        yield None
        return
    from ferry.engine.changes import ChangeState

    store, run = StateStore(plan.export.id), plan.run.safe_run_id
    changes_lease.take(store.files, plan.export.id, run, plan.run.job_run_id, log=log)
    work_root = paths.ferry_home() / "changes-work"
    work_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_root, prefix=f"{plan.export.id}-") as work:
        base = store.base_for(run)
        against = f"the state of run {base.run}" if base.state else "nothing: every row is added"
        log.info("Changes of %s: diffing against %s", plan.export.id, against)
        state = ChangeState(
            store.base_file(base, Path(work)), Path(work) / "new.parquet", Path(work)
        )
        try:
            yield state
        except ExportSkipped:  # over a limit: the run ends here, and no finalize follows
            changes_lease.release(store.files, plan.export.id, run, log=log)
            raise
        store.stage(run, state.new)


def settle(plan: ExportPlan, receipts: list[dict], *, log: logging.Logger = LOG) -> str:
    """finalize's part: commit the run's state, unless a destination refused records.

    A target that rejected records (a webhook under max_reject_rate, or with
    on_rejects_over: warn) lacks those changes; committing would never send them again. So
    nothing is committed and the next run resends this run's changes (with newer ones) to
    every destination: receivers get some rows twice, none is lost.

    Returns:
        What the run's record should say ("" when the state was committed).
    """
    refused = [(r.get("destination", "?"), int(r.get("rejects") or 0)) for r in receipts]
    refused = [(name, count) for name, count in refused if count]
    store = StateStore(plan.export.id)
    if not refused:
        store.commit(plan.run.safe_run_id, log)
        note = ""
    else:
        said = ", ".join(f"{name} rejected {count:,} records" for name, count in refused)
        note = f"changes state not committed ({said}): the next run sends these changes again"
        log.warning("Changes state of %s: %s", plan.export.id, note)
    changes_lease.release(store.files, plan.export.id, plan.run.safe_run_id, log=log)
    return note


def release(run: RunInfo, *, log: logging.Logger = LOG) -> None:
    """A failed or stopped run's record: give back its lease, if it holds it (a store out
    of reach leaves it to expire; the record goes ahead)."""
    try:
        changes_lease.release(StateStore(run.export_id).files, run.export_id, run.safe_run_id)
    except Exception as error:  # the failure's record matters more
        log.warning("Changes lease of %s not released (%s): it expires", run.export_id, error)
