"""Where Airflow is and who you are there, and how a REST command reports a problem.

Where and who: --url/--user/--password, or the environment variables FERRY_AIRFLOW_URL,
FERRY_AIRFLOW_USER and FERRY_AIRFLOW_PASSWORD (prefer the environment for the password:
command-line arguments show in the process list); FERRY_AIRFLOW_TIMEOUT is how long to
wait for each answer (default 30 s).

Exit codes of the REST commands: 0 done, 1 refused (by Ferry or by Airflow) or a run
failed, 2 Airflow did not answer (nothing was started), 3 a trigger was sent but its answer
was lost: the run may have started, so check before running it again.

Nothing here imports Airflow: these commands only talk to its REST API.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable

from ferry.airflow_api import (
    AirflowApiError,
    AirflowClient,
    AirflowUnreachable,
    TriggerOutcomeUnknown,
)

ENVIRONMENT = {
    "url": "FERRY_AIRFLOW_URL",
    "user": "FERRY_AIRFLOW_USER",
    "password": "FERRY_AIRFLOW_PASSWORD",
}
DEFAULTS = {"url": "http://127.0.0.1:8080", "user": "admin"}
TIMEOUT_VARIABLE = "FERRY_AIRFLOW_TIMEOUT"  # seconds to wait for each answer
DEFAULT_TIMEOUT = "30"

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 2
EXIT_MAY_HAVE_STARTED = 3


class CliError(Exception):
    """A problem the user can fix, reported in one line."""


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Airflow (flags, else environment)")
    group.add_argument("--url", help=f"${ENVIRONMENT['url']}, default {DEFAULTS['url']}")
    group.add_argument("--user", help=f"${ENVIRONMENT['user']}, default {DEFAULTS['user']}")
    group.add_argument("--password", help=f"${ENVIRONMENT['password']} (preferred)")


def setting(args: argparse.Namespace, name: str) -> str | None:
    return getattr(args, name, None) or os.environ.get(ENVIRONMENT[name]) or DEFAULTS.get(name)


def client_from(args: argparse.Namespace) -> AirflowClient:
    """One client, so one token, for the whole command."""
    password = setting(args, "password")
    if not password:
        raise CliError(f"no Airflow password: set {ENVIRONMENT['password']} or pass --password")
    timeout = os.environ.get(TIMEOUT_VARIABLE) or DEFAULT_TIMEOUT
    try:
        seconds = float(timeout)
    except ValueError:
        raise CliError(f"{TIMEOUT_VARIABLE} must be seconds, not {timeout!r}") from None
    url, user = setting(args, "url"), setting(args, "user")
    return AirflowClient(url, username=user, password=password, timeout=seconds)


def guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Report a user error or a network problem in one line instead of a traceback."""
    import requests

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except TriggerOutcomeUnknown as lost:  # only reached by commands without their own
            print(f"ferry {args.command}: {lost}; the run may have started", file=sys.stderr)
            return EXIT_MAY_HAVE_STARTED
        except AirflowUnreachable as error:
            print(f"ferry {args.command}: {error}", file=sys.stderr)
            return EXIT_UNREACHABLE
        except (CliError, AirflowApiError, TimeoutError) as error:
            print(f"ferry {args.command}: {error}", file=sys.stderr)
            return EXIT_REFUSED
        except requests.RequestException as error:
            print(f"ferry {args.command}: Airflow at {setting(args, 'url')} failed: "
                  f"{type(error).__name__}", file=sys.stderr)  # fmt: skip
            return EXIT_UNREACHABLE

    return run
