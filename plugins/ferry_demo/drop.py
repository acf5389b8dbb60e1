"""A partner's daily lead file for the demo import (include/imports/partner_leads.yaml).

`python -m ferry_demo --drop-leads 2026-03-04` writes leads_20260304.csv into the drop
folder (ferry.imports.files.drop_root() / partner): ten leads the demo warehouse already
has (merge updates them) and ten new ones (merge inserts them), with the partner's own
column name E-mail. The same day always gives the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from ferry.imports.files import drop_root

FOLDER = "partner"  # the import's source path
COLUMNS = ["lead_id", "E-mail", "first_name", "last_name", "state", "country", "source",
           "created_at"]  # fmt: skip
STATES = ["TX", "CA", "NY", "WA", "FL"]
NEW_LEADS_FROM = 900_000_001  # above any lead id the demo builds


def lead_rows(day: dt.date) -> list[list[str]]:
    """Ten updates of existing leads and ten new leads, all created on day."""
    ids = [*range(1, 11), *range(NEW_LEADS_FROM, NEW_LEADS_FROM + 10)]
    moment = dt.datetime.combine(day, dt.time(9, 30))
    return [
        [str(lead_id), f"lead{lead_id}@partner.example", f"First{n}", f"Last{n}",
         STATES[n % len(STATES)], "US", "partner",
         (moment + dt.timedelta(minutes=n)).strftime("%Y-%m-%d %H:%M:%S")]
        for n, lead_id in enumerate(ids)
    ]  # fmt: skip


def drop_leads(day: dt.date, root: Path | None = None) -> Path:
    """Write the day's lead file into the drop folder whole (temporary name, then rename)."""
    folder = (root or drop_root()) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(lead_rows(day))
    path = folder / f"leads_{day:%Y%m%d}.csv"
    partial = folder / f".{path.name}.part"  # hidden: the import does not see it
    partial.write_text(buffer.getvalue(), encoding="utf-8")
    partial.replace(path)
    return path
