"""Each worker of the local deployment names itself in its task instances."""

from __future__ import annotations

import socket

from ferry.cluster import hostname


def test_a_worker_reports_the_name_it_was_given(monkeypatch):
    monkeypatch.setenv(hostname.ENV, "worker-2")
    assert hostname.worker_hostname() == "worker-2"


def test_without_a_name_it_is_the_machine(monkeypatch):
    monkeypatch.delenv(hostname.ENV, raising=False)
    assert hostname.worker_hostname() == socket.getfqdn()
