"""One run at a time of a changes-only export: a lease beside its state (ferry.changes_state).

The export's own DAG and a group's DAG that has it as a member can run it at once
(max_active_runs is per DAG). Their commits cannot move the head wrongly, but their
deliveries can reach a receiver in either order, leaving it an older value than the
committed state says, never sent again. So extract takes the lease, lease.json in the
export's state folder, by the same compare-and-swap as head.json (an flock locally, a
conditional PUT on S3):

    {export, run, job_run_id, taken_at, expires_at}

A try of the same run takes it again (a retry, or a rerun of the run); another run's live
lease fails extract with LeaseHeld, transient, so Airflow retries it with backoff until the
holder is done. finalize releases it once the state is settled, and so does the record of
a run that ended failed or skipped. A holder that died never releases: its lease expires
after FERRY_CHANGES_LEASE_HOURS (default 6) and the next run takes it over, saying so.
A release leaves {export, run: null, released_by, released_at} (a swap, as a take is).
Each deliver step renews the holder's lease (renew), so a delivery longer than the lease
does not let another run start; `ferry reset --lease EXPORT` frees a lease whose run will
never release it (free), e.g. a run marked failed by hand, for which no callback runs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

from ferry.exceptions import Transient

LOG = logging.getLogger("ferry.changes")
LEASE = "lease.json"
HOURS_VARIABLE = "FERRY_CHANGES_LEASE_HOURS"
DEFAULT_HOURS = 6.0


class Swappable(Protocol):
    """What the lease needs of a state folder (changes_state's _Local and _Remote)."""

    where: str

    def read(self, name: str) -> bytes | None: ...

    def swap(self, name: str, change: Callable[[bytes | None], bytes | None]) -> bytes | None: ...


@dataclass(frozen=True)
class Lease:
    """Who runs the export now: run is the run's folder name (None: released)."""

    export: str
    run: str | None
    job_run_id: str = ""
    taken_at: str = ""
    expires_at: str = ""

    def live_for_another(self, run: str, now: dt.datetime) -> bool:
        return self.run is not None and self.run != run and not self.expired(now)

    def expired(self, now: dt.datetime) -> bool:
        return bool(self.expires_at) and dt.datetime.fromisoformat(self.expires_at) <= now


class LeaseHeld(Transient):
    """Another run of the export holds its lease: this try waits for a retry."""


def lease_hours() -> float:
    """How long a lease lasts without its holder releasing it (FERRY_CHANGES_LEASE_HOURS)."""
    raw = os.environ.get(HOURS_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_HOURS
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if not 0 < hours < 24 * 365:
        raise ValueError(f"{HOURS_VARIABLE}={raw!r} is not a number of hours above 0; e.g. 6")
    return hours


def take(
    files: Swappable, export_id: str, run: str, job_run_id: str, *, log: logging.Logger = LOG
) -> Lease:
    """Take the export's lease for this run (again, when it holds it already).

    Raises:
        LeaseHeld: Another run holds a lease that has not expired.
    """
    now = _now()
    mine = Lease(export_id, run, job_run_id, now.isoformat(),
                 (now + dt.timedelta(hours=lease_hours())).isoformat())  # fmt: skip
    seen: list[Lease | None] = []

    def claim(body: bytes | None) -> bytes | None:
        seen.append(_parse(body, export_id))
        held = seen[-1]
        return None if held and held.live_for_another(run, now) else _json(asdict(mine))

    if files.swap(LEASE, claim) is None:
        raise LeaseHeld(_held_message(seen[-1], export_id, job_run_id, files.where))
    before = seen[-1]
    if before and before.run not in (None, run):
        log.warning(
            "Changes lease of %s: run %s held it until %s and never released it (its worker "
            "stopped?); taken over by run %s", export_id, before.job_run_id, before.expires_at,
            job_run_id,
        )  # fmt: skip
    else:
        log.info("Changes lease of %s taken by run %s until %s (%s/%s)", export_id,
                 job_run_id, mine.expires_at, files.where, LEASE)  # fmt: skip
    return mine


def release(files: Swappable, export_id: str, run: str, *, log: logging.Logger = LOG) -> bool:
    """Give the lease back, when this run holds it; whether it did."""
    now = _now().isoformat()
    freed = {"export": export_id, "run": None, "released_by": run, "released_at": now}

    def give_back(body: bytes | None) -> bytes | None:
        held = _parse(body, export_id)
        return _json(freed) if held and held.run == run else None

    if files.swap(LEASE, give_back) is None:
        return False
    log.info("Changes lease of %s released by run %s", export_id, run)
    return True


def renew(files: Swappable, export_id: str, run: str, *, log: logging.Logger = LOG) -> bool:
    """Push the lease's end back by a full lease, when this run holds it; whether it did."""
    now = _now()
    until = (now + dt.timedelta(hours=lease_hours())).isoformat()

    def extend(body: bytes | None) -> bytes | None:
        held = _parse(body, export_id)
        if held is None or held.run != run:
            return None
        return _json(
            {**json.loads(body or b"{}"), "renewed_at": now.isoformat(), "expires_at": until}
        )

    if files.swap(LEASE, extend) is None:
        log.warning("Changes lease of %s not held by run %s: not renewed", export_id, run)
        return False
    log.info("Changes lease of %s renewed by run %s until %s", export_id, run, until)
    return True


def free(files: Swappable, export_id: str, *, by: str) -> Lease | None:
    """Release the lease whoever holds it (`ferry reset --lease`); the lease it freed, if
    a run held one."""
    seen: list[Lease | None] = []
    freed = {"export": export_id, "run": None, "released_by": by,
             "released_at": _now().isoformat()}  # fmt: skip

    def drop(body: bytes | None) -> bytes | None:
        seen.append(_parse(body, export_id))
        return _json(freed) if seen[-1] and seen[-1].run is not None else None

    return seen[-1] if files.swap(LEASE, drop) is not None else None


def holder(files: Swappable, export_id: str) -> Lease | None:
    """The lease as it is now (None: never taken)."""
    return _parse(files.read(LEASE), export_id)


def _held_message(held: Lease | None, export_id: str, job_run_id: str, where: str) -> str:
    assert held is not None  # a refusal always saw a lease
    return (
        f"export {export_id} is being run by {held.job_run_id} (since {held.taken_at}): a "
        f"changes-only export runs one run at a time, so receivers get its changes in order. "
        f"Run {job_run_id} waits (Airflow retries it with backoff) and can go ahead once "
        f"{held.job_run_id} commits or fails. "
        f"If {held.job_run_id} is not running any more (its worker died), its lease expires at "
        f"{held.expires_at} ({HOURS_VARIABLE}, default {DEFAULT_HOURS:g} hours); to free it "
        f"sooner, run `ferry reset --lease {export_id}` (or delete {where}/{LEASE})"
    )


def _parse(body: bytes | None, export_id: str) -> Lease | None:
    if body is None:
        return None
    data = json.loads(body)
    return Lease(export_id, data.get("run"), data.get("job_run_id") or str(data.get("run")),
                 data.get("taken_at", ""), data.get("expires_at", ""))  # fmt: skip


def _json(data: dict) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
