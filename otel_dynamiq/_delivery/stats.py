"""What the exporter reports about its runs: the drop reasons and the snapshot of its counters.

The counting itself is ``ledger.py``'s: this module only names what it counts.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class DropReason(str, enum.Enum):
    """Why runs were dropped: the keys of ``ExporterStats.runs_dropped`` and of the ``runs.dropped`` metric.

    The values are stable strings that programs and dashboards match on; a member compares equal to its
    value, so ``stats.runs_dropped["timeout"]`` and ``stats.runs_dropped[DropReason.TIMEOUT]`` are the same.
    Adding a reason is adding a member here (CONTRIBUTING.md, "Adding a drop reason").
    """

    REJECTED = "rejected"
    """The service refused the run for good: a final 4xx other than 413, or an unexpected 5xx such as 501."""
    TOO_LARGE = "too_large"
    """A run the service refused as too large (413) even alone, or that cannot be cut to fit the request cap."""
    REDIRECT = "redirect"
    """The endpoint answered with a redirect, which is never followed with the key attached."""
    TIMEOUT = "timeout"
    """Still failing for a retryable cause when the export's deadline passed, with the spool off."""
    SHUTDOWN = "shutdown"
    """Exported after shutdown, or undelivered at shutdown with the spool off or holding them only in memory."""
    SPOOL_FULL = "spool_full"
    """The oldest spooled runs, dropped to keep the spool under its size cap."""
    SPOOL_EXPIRED = "spool_expired"
    """Spooled runs older than the spool's age cap."""
    TRANSPORT = "transport"
    """A transport failure that retrying cannot cure (an invalid URL, an unsupported scheme)."""
    TRANSLATION = "translation"
    """A span that could not be turned into a run (a bug in otel-dynamiq: please report it)."""
    MASKED = "masked"
    """Runs the user's mask hook dropped by returning None: on purpose, so counted apart from failures."""
    MASK_FAILED = "mask_failed"
    """Runs whose mask hook raised, or returned something other than a run or None: never sent unmasked."""
    UNEXPECTED = "unexpected"
    """The runs of an export that failed in a way otel-dynamiq did not foresee (a bug: please report it)."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ExporterStats:
    """A snapshot of what the exporter has done since it was built."""

    runs_sent: int = 0
    """Every run the service accepted, resent ones included."""
    requests: int = 0
    retries: int = 0
    runs_dropped: Mapping[str, int] = field(default_factory=dict)
    """Runs given up on, by ``DropReason`` value."""
    runs_spooled: int = 0
    """Runs put in the spool because the service could not take them in time."""
    runs_resent: int = 0
    """Runs the service accepted from the spool (also counted in ``runs_sent``)."""
    runs_returned: int = 0
    """Runs a spool that refuses when full (the gateway's) did not take: the export failed, and whoever sent
    the spans keeps them to send again. Neither dropped nor kept here."""

    @property
    def runs_dropped_total(self) -> int:
        return sum(self.runs_dropped.values())
