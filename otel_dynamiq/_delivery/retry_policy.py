"""When to try a request again, and how long to wait first. Pure policy, no I/O."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Throttling, timeouts and the server-side failures that a later attempt can cure.

500 is included (unlike the OTLP specification's list) because a collector
answering 500 during a deploy is the common case, and the deadline bounds the
cost of retrying a 500 that is permanent.
"""

INITIAL_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 16.0


def is_retryable_status(status_code: int) -> bool:
    return status_code in RETRYABLE_STATUSES


def backoff_seconds(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with equal jitter: a wait drawn from the upper half of the ceiling.

    Half the ceiling is always waited, so a struggling service gets real relief; the other half is random,
    so clients that failed together do not retry in step.
    """
    ceiling = min(MAX_BACKOFF_SECONDS, INITIAL_BACKOFF_SECONDS * (2**attempt))
    return (rng or random).uniform(ceiling / 2, ceiling)


def retry_after_seconds(header: str | None, now: datetime | None = None) -> float | None:
    """Seconds the server asked us to wait: ``Retry-After`` as seconds or as an HTTP date."""
    if header is None:
        return None
    header = header.strip()
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def wait_before_retry(asked: float | None, backoff: float) -> float:
    """The service's ``Retry-After`` when it gave one, but never less than half our own backoff.

    ``Retry-After: 0`` (or a date already past) from a service that keeps failing would otherwise have
    every export send as fast as the loop turns, some thousand requests a second, until its deadline.
    """
    return backoff if asked is None else max(asked, backoff / 2)
