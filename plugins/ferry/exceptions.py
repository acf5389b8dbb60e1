"""Outcomes that stop an export run, independent of Airflow (the operators translate them)."""


class ExportSkipped(Exception):
    """The run has nothing to do (e.g. over a size limit); downstream steps are skipped."""


class ExportRejected(Exception):
    """The run cannot go ahead as defined (e.g. a segment the target does not accept)."""
