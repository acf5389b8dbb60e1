"""The name a Celery worker of the local deployment reports as its tasks' hostname.

Two workers on one machine share its host name; Airflow records each task instance's
hostname from [core] hostname_callable, which the deployment points here for its workers,
so the task instances say which worker ran them. Anywhere else it is the machine's name.
"""

from __future__ import annotations

import os
import socket

ENV = "FERRY_WORKER_HOSTNAME"


def worker_hostname() -> str:
    """FERRY_WORKER_HOSTNAME when set, else the machine's fully qualified name."""
    return os.environ.get(ENV) or socket.getfqdn()
