"""One run of an export: which, when, what interval, who asked, and in which group.

Plain data made from Airflow's context by the operators and from the command line by
`ferry run --local`; every step of a run takes one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ferry.safe_names import folder_name

# Between a group and a run in a member's folder name: folder_name() never writes it.
GROUP_MARK = "+"


@dataclass(frozen=True)
class RunInfo:
    """One run of an export: which, when, what interval, who asked, and in which group.

    An export runs in its own DAG and as a member of group DAGs, and those DAGs' run ids
    can be equal (two schedules at 03:00): group_id is part of the run's identity, so a
    member's staging folder, history record and download folder are its own.
    """

    export_id: str
    run_id: str
    logical_date: dt.datetime | None = None
    data_interval_start: dt.datetime | None = None
    data_interval_end: dt.datetime | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    ids: tuple = ()
    triggered_by: str = "unknown"
    run_after: dt.datetime | None = None
    group_id: str = ""  # the group whose DAG runs this export; "" in the export's own DAG

    @property
    def safe_run_id(self) -> str:
        """The run's folder name: folder_name(run_id), or <group>+<run> for a group member.

        Safe and injective: folder_name() never writes '+', so an export's own runs have
        none and a member's has exactly one, between two injective names.
        """
        name = folder_name(self.run_id)
        return f"{folder_name(self.group_id)}{GROUP_MARK}{name}" if self.group_id else name

    @property
    def job_run_id(self) -> str:
        """The JobID.RunID users quote when they ask about a run (JobID.Group+RunID in a group)."""
        return f"{self.export_id}.{self.safe_run_id}"

    @property
    def now(self) -> dt.datetime:
        """The run's reference time: relative dates count back from it, not from the clock.

        A manual run without a logical date has no interval; its run_after is still the same
        in every task and on every retry, unlike the clock.
        """
        moment = self.data_interval_end or self.logical_date or self.run_after
        return naive_utc(moment) or _utc_now()

    def template_vars(self) -> dict:
        """Airflow's date macros for destination templates, also for runs without a logical date.

        Airflow leaves ds and ts out of a manual run's context when it has no logical date;
        here they come from the logical date, else the interval's start, else run_after.
        """
        moment = self.logical_date or self.data_interval_start or self.run_after or _utc_now()
        return {
            "ds": moment.strftime("%Y-%m-%d"),
            "ds_nodash": moment.strftime("%Y%m%d"),
            "ts": moment.isoformat(),
            "ts_nodash": moment.strftime("%Y%m%dT%H%M%S"),
            "run_id": self.run_id,
            "logical_date": moment,
            "data_interval_start": self.data_interval_start,
            "data_interval_end": self.data_interval_end,
        }


def naive_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """moment in UTC without tzinfo (naive values are taken as UTC already)."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
