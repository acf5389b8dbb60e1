"""In-call retries: transient errors are tried again with backoff, others at once not."""

from __future__ import annotations

import logging

import pytest

from ferry.retries import RetryPolicy, describe_error, with_retries

FAST = RetryPolicy(attempts=3, backoff_seconds=0.001, max_backoff_seconds=0.001)


class Flaky:
    """Fails with each error in turn, then answers."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors, self.calls = list(errors), 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_a_transient_error_is_tried_again_and_each_try_is_logged(caplog):
    action = Flaky(ConnectionError("reset"), ConnectionError("reset"))
    with caplog.at_level(logging.WARNING):
        result = with_retries(
            action, what="upload", retry_on=(ConnectionError,), log=logging.getLogger("t"),
            policy=FAST,
        )  # fmt: skip
    assert (result, action.calls) == ("done", 3)
    assert "upload failed (attempt 1 of 3): ConnectionError: reset" in caplog.text
    assert "upload failed (attempt 2 of 3)" in caplog.text


def test_the_last_error_is_raised_when_every_try_failed():
    action = Flaky(*[ConnectionError(f"try {n}") for n in (1, 2, 3)])
    with pytest.raises(ConnectionError, match="try 3"):
        with_retries(action, what="x", retry_on=(ConnectionError,), log=logging.getLogger("t"),
                     policy=FAST)  # fmt: skip
    assert action.calls == 3


def test_an_error_not_named_is_raised_at_once():
    action = Flaky(PermissionError("refused"))
    with pytest.raises(PermissionError):
        with_retries(action, what="x", retry_on=(ConnectionError,), log=logging.getLogger("t"),
                     policy=FAST)  # fmt: skip
    assert action.calls == 1


def test_a_retry_after_hint_sets_the_wait_up_to_the_policys_cap(caplog):
    busy = ConnectionError("429")
    busy.retry_after = 3600  # a target asking for an hour gets the cap
    policy = RetryPolicy(attempts=2, max_retry_after_seconds=0.01)
    with caplog.at_level(logging.WARNING):
        with_retries(Flaky(busy), what="post", retry_on=(ConnectionError,),
                     log=logging.getLogger("t"), policy=policy)  # fmt: skip
    assert "retrying in 0.0 s" in caplog.text


def test_the_policy_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("FERRY_DELIVERY_ATTEMPTS", "0")  # at least one try, always
    monkeypatch.setenv("FERRY_DELIVERY_BACKOFF_SECONDS", "2.5")
    policy = RetryPolicy.from_env()
    assert (policy.attempts, policy.backoff_seconds, policy.max_backoff_seconds) == (1, 2.5, 30.0)


@pytest.mark.parametrize(
    ("error", "text"),
    [(ValueError("bad"), "ValueError: bad"), (TimeoutError(), "TimeoutError"), (None, "NoneType")],
)
def test_an_error_is_described_even_without_a_message(error, text):
    assert describe_error(error) == text
