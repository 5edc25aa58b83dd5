"""Delivery counters the program can read, so a drop is never silent."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Why runs were dropped. Stable strings: programs and dashboards match on them.
DROP_REJECTED = "rejected"
"""The service answered with a final 4xx (other than 413)."""
DROP_TOO_LARGE = "too_large"
"""A single run the service refused as too large (413), or that cannot be truncated to fit."""
DROP_REDIRECT = "redirect"
"""The endpoint answered with a redirect, which is never followed with the key attached."""
DROP_TIMEOUT = "timeout"
"""Still failing with a retryable cause when the export deadline passed, with the spool off."""
DROP_SHUTDOWN = "shutdown"
"""Exported after shutdown, or undelivered at shutdown with the spool off or only in memory."""
DROP_SPOOL_FULL = "spool_full"
"""The oldest spooled runs, dropped to keep the spool under its size cap."""
DROP_SPOOL_EXPIRED = "spool_expired"
"""Spooled runs older than the spool's age cap."""
DROP_TRANSPORT = "transport"
"""A transport failure that retrying cannot cure (for example an invalid URL)."""
DROP_TRANSLATION = "translation"
"""A span that could not be turned into a run (a bug in otel-dynamiq: please report it)."""
DROP_MASKED = "masked"
"""Runs the user's mask hook dropped by returning None: on purpose, so counted apart from failures."""
DROP_MASK_FAILED = "mask_failed"
"""Runs whose mask hook raised, or returned something other than a dict or None: never sent unmasked."""
DROP_UNEXPECTED = "unexpected"
"""The spans of an export that failed in a way otel-dynamiq did not foresee (a bug: please report it)."""


@dataclass(frozen=True)
class ExporterStats:
    """A snapshot of what the exporter has done since it was built."""

    runs_sent: int = 0
    """Every run the service accepted, resent ones included."""
    requests: int = 0
    retries: int = 0
    runs_dropped: Mapping[str, int] = field(default_factory=dict)
    runs_spooled: int = 0
    """Runs put in the spool because the service could not take them in time."""
    runs_resent: int = 0
    """Runs the service accepted from the spool (also counted in ``runs_sent``)."""
    runs_refused: int = 0
    """Runs a spool that refuses when full did not take: the export failed, and the sender kept them."""

    @property
    def runs_dropped_total(self) -> int:
        return sum(self.runs_dropped.values())


class StatsRecorder:
    """Thread-safe counters; the lock is never held across an ``await``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs_sent = 0
        self._requests = 0
        self._retries = 0
        self._dropped: Counter[str] = Counter()
        self._runs_spooled = 0
        self._runs_resent = 0
        self._runs_refused = 0

    def sent(self, runs: int) -> None:
        with self._lock:
            self._runs_sent += runs

    def spooled(self, runs: int) -> None:
        with self._lock:
            self._runs_spooled += runs

    def refused(self, runs: int) -> None:
        with self._lock:
            self._runs_refused += runs

    def resent(self, runs: int) -> None:
        with self._lock:
            self._runs_sent += runs
            self._runs_resent += runs

    def request(self) -> None:
        with self._lock:
            self._requests += 1

    def retry(self) -> None:
        with self._lock:
            self._retries += 1

    def dropped(self, reason: str, runs: int) -> None:
        if runs <= 0:
            return
        with self._lock:
            self._dropped[reason] += runs

    def snapshot(self) -> ExporterStats:
        with self._lock:
            return ExporterStats(
                runs_sent=self._runs_sent,
                requests=self._requests,
                retries=self._retries,
                runs_dropped=MappingProxyType(dict(self._dropped)),
                runs_spooled=self._runs_spooled,
                runs_resent=self._runs_resent,
                runs_refused=self._runs_refused,
            )
