"""Where Airflow is and who you are there (flags, else environment), and one-line errors
with the documented exit codes instead of tracebacks."""

from __future__ import annotations

import argparse

import pytest
import requests

from ferry.airflow_api import AirflowApiError, AirflowUnreachable, TriggerOutcomeUnknown
from ferry.cli.connection import (
    EXIT_MAY_HAVE_STARTED,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    CliError,
    add_connection_options,
    client_from,
    guarded,
)


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_connection_options(parser)
    return parser.parse_args(argv)


@pytest.fixture(autouse=True)
def no_environment(monkeypatch):
    for name in ("URL", "USER", "PASSWORD", "TIMEOUT"):
        monkeypatch.delenv(f"FERRY_AIRFLOW_{name}", raising=False)


def test_flags_win_over_the_environment_and_defaults_fill_the_rest(monkeypatch):
    monkeypatch.setenv("FERRY_AIRFLOW_URL", "http://env:8080/")
    monkeypatch.setenv("FERRY_AIRFLOW_PASSWORD", "from-env")
    monkeypatch.setenv("FERRY_AIRFLOW_TIMEOUT", "2.5")

    client = client_from(parsed("--url", "http://flag:8080"))
    from_env = client_from(parsed())

    assert (client.base_url, client.timeout) == ("http://flag:8080", 2.5)
    assert from_env.base_url == "http://env:8080"
    assert from_env._credentials == {"username": "admin", "password": "from-env"}


def test_no_password_or_a_timeout_that_is_not_seconds_is_a_user_error(monkeypatch):
    with pytest.raises(CliError, match="no Airflow password: set FERRY_AIRFLOW_PASSWORD"):
        client_from(parsed())
    monkeypatch.setenv("FERRY_AIRFLOW_TIMEOUT", "soon")
    with pytest.raises(CliError, match="FERRY_AIRFLOW_TIMEOUT must be seconds, not 'soon'"):
        client_from(parsed("--password", "p"))


@pytest.mark.parametrize(
    ("error", "code", "said"),
    [
        (CliError("no export 'x'"), EXIT_REFUSED, "ferry run: no export 'x'"),
        (AirflowApiError("Airflow API could not GET /dags: 403 no"), EXIT_REFUSED,
         "ferry run: Airflow API could not GET /dags: 403 no"),
        (TimeoutError("run r did not finish"), EXIT_REFUSED, "ferry run: run r did not finish"),
        (AirflowUnreachable("Airflow at u did not answer"), EXIT_UNREACHABLE,
         "ferry run: Airflow at u did not answer"),
        (TriggerOutcomeUnknown("sent POST but the answer was lost"), EXIT_MAY_HAVE_STARTED,
         "ferry run: sent POST but the answer was lost; the run may have started"),
        (requests.exceptions.InvalidURL("bad"), EXIT_UNREACHABLE,
         "ferry run: Airflow at http://127.0.0.1:8080 failed: InvalidURL"),
    ],
)  # fmt: skip
def test_guarded_says_each_problem_in_one_line_with_its_exit_code(error, code, said, capsys):
    def command(args: argparse.Namespace) -> int:
        raise error

    args = parsed()
    args.command = "run"
    assert guarded(command)(args) == code
    assert capsys.readouterr().err == said + "\n"
