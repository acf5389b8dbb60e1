"""`ferry reset EXPORT`: a changes-only export's next run sends every row, as added.

The export's committed state is forgotten (ferry.changes_state); a run already under way
keeps its own base and cannot move the state back, so the reset holds.

`ferry reset --lease EXPORT` frees the export's lease instead, state untouched: for a run
that will never release it (marked failed by hand, so no failure callback ran) and whose
lease would otherwise block the next runs until it expires.
"""

from __future__ import annotations

import argparse

from ferry.cli.connection import CliError, guarded
from ferry.cli.deployed import current_definitions, find_export


def register(subparsers) -> None:
    reset = subparsers.add_parser(
        "reset", help="make a changes-only export's next run send every row (as added)"
    )
    reset.add_argument("export")
    reset.add_argument(
        "--lease",
        action="store_true",
        help="free the lease of a run that will not release it (the state is kept)",
    )
    reset.set_defaults(handler=guarded(reset_export))


def reset_export(args: argparse.Namespace) -> int:
    from ferry.changes_state import StateStore  # S3 and Airflow only when staging is there

    export = find_export(current_definitions(), args.export)
    if export.changes is None:
        raise CliError(
            f"export '{export.id}' sends every row on each run already; reset applies to "
            "changes-only exports (changes: true)"
        )
    store = StateStore(export.id)
    if args.lease:
        return _free_lease(store, export.id)
    before, _ = store.reset()
    if before.state is None:
        print(f"export {export.id} had no delivered state: its next run sends every row")
    else:
        print(f"reset export {export.id}: forgot the state of run {before.run}")
        print("  its next run sends every row, as added")
    print(f"  the state folder: {store.files.where}")
    return 0


def _free_lease(store, export_id: str) -> int:
    from ferry import changes_lease

    held = changes_lease.free(store.files, export_id, by="ferry reset --lease")
    if held is None:
        print(f"export {export_id}: no run held its lease; nothing to free")
    else:
        print(f"freed the lease of export {export_id} held by run {held.job_run_id}")
        print(f"  taken at {held.taken_at}, it would have expired at {held.expires_at}")
        print("  the next run goes ahead; its state is kept")
    print(f"  the state folder: {store.files.where}")
    return 0
