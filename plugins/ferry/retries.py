"""In-call retries with exponential backoff, and errors described for a log line.

Shared by the destinations and the S3 layer; tenacity is imported inside with_retries, so
this module loads while DAG files parse without it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """In-call retries for a target that is briefly down; Airflow's task retries do the rest.

    Read from FERRY_DELIVERY_ATTEMPTS, FERRY_DELIVERY_BACKOFF_SECONDS,
    FERRY_DELIVERY_MAX_BACKOFF_SECONDS and FERRY_DELIVERY_MAX_RETRY_AFTER_SECONDS.
    """

    attempts: int = 4
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0

    @classmethod
    def from_env(cls) -> RetryPolicy:
        def number(name: str, default: float) -> float:
            return float(os.environ.get(f"FERRY_DELIVERY_{name}") or default)

        return cls(
            attempts=max(1, int(number("ATTEMPTS", cls.attempts))),
            backoff_seconds=number("BACKOFF_SECONDS", cls.backoff_seconds),
            max_backoff_seconds=number("MAX_BACKOFF_SECONDS", cls.max_backoff_seconds),
            max_retry_after_seconds=number("MAX_RETRY_AFTER_SECONDS", cls.max_retry_after_seconds),
        )


def with_retries(
    action: Callable[[], T],
    *,
    what: str,
    retry_on: tuple[type[BaseException], ...],
    log: logging.Logger,
    policy: RetryPolicy | None = None,
) -> T:
    """Call action, retrying on retry_on with exponential backoff.

    An exception with a `retry_after` attribute (seconds, e.g. from HTTP 429) sets the
    wait instead, up to the policy's max_retry_after_seconds. The last error is re-raised.
    """
    import tenacity

    policy = policy or RetryPolicy.from_env()
    backoff = tenacity.wait_exponential(
        multiplier=policy.backoff_seconds, max=policy.max_backoff_seconds
    )

    def wait(state: tenacity.RetryCallState) -> float:
        hint = getattr(state.outcome.exception(), "retry_after", None)
        return min(hint, policy.max_retry_after_seconds) if hint is not None else backoff(state)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        log.warning(
            "%s failed (attempt %d of %d): %s; retrying in %.1f s",
            what, state.attempt_number, policy.attempts,
            describe_error(state.outcome.exception()), state.next_action.sleep,
        )  # fmt: skip

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts),
        wait=wait,
        retry=tenacity.retry_if_exception_type(retry_on),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(action)


def describe_error(error: BaseException | None) -> str:
    """An error as 'Type: message', readable even when the message is empty."""
    text = str(error) if error is not None else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def without_credentials(url: str) -> str:
    """A URL without any user:password@ it might carry, for messages and receipts."""
    parts = urlsplit(url or "")
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
