"""The retry policy: which answers are retried, and how long to wait first."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from otel_dynamiq._delivery.retry_policy import (
    MAX_BACKOFF_SECONDS,
    backoff_seconds,
    is_retryable_status,
    retry_after_seconds,
    wait_before_retry,
)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_answers_are_retried(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422, 501])
def test_final_answers_are_not(status: int) -> None:
    assert not is_retryable_status(status)


def test_backoff_grows_with_jitter_and_a_ceiling() -> None:
    rng = random.Random(7)
    waits = [backoff_seconds(attempt, rng) for attempt in range(10)]
    assert 0.25 <= waits[0] <= 0.5
    assert 0.5 <= waits[1] <= 1.0
    assert all(wait <= MAX_BACKOFF_SECONDS for wait in waits)
    assert waits[9] >= MAX_BACKOFF_SECONDS / 2
    assert len({backoff_seconds(3, rng) for _ in range(20)}) > 1  # jittered, not in step


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds("-3") == 0.0
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(later, now=now) == 30.0
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(earlier, now=now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_the_services_retry_after_is_taken_but_never_below_half_our_backoff() -> None:
    assert wait_before_retry(None, 0.8) == 0.8
    assert wait_before_retry(3.0, 0.8) == 3.0
    assert wait_before_retry(0.0, 0.8) == 0.4  # ``Retry-After: 0`` from a failing service: no tight loop
