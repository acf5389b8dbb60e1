"""The steps the tasks and the CLI share: errors another try cannot fix are terminal."""

from __future__ import annotations

import logging

import pytest

from ferry import steps
from ferry.exceptions import ExportRejected
from ferry.run_info import RunInfo


def test_a_destination_gone_from_the_definition_fails_the_delivery_at_once():
    run = RunInfo("daily_lead_backup", "manual__2026-11-20T00:00:00+00:00")
    with pytest.raises(ExportRejected, match="has no destination 'sftp_old' now"):
        steps.deliver(run, "sftp_old", {}, 1, log=logging.getLogger("test"))
