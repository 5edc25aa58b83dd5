"""The ledger: the one place that counts what became of every run the exporter accepted.

Every batch handed to ``export()`` becomes an ``Entry`` holding its runs. Each run settles exactly
once, in one of four ways: *delivered* (the service accepted it), *spooled* (kept for later),
*returned* (a spool that refuses when full did not take it, so its sender keeps it), or *dropped*
for a ``DropReason``. An entry can be split into smaller ones (a batch into request bodies, a body
the service refused into halves); splitting hands every run still open to the parts, so nothing is
counted at the split itself. Whatever path a run takes (a retry, a cancel, a timeout, a signal at
the process's end), it reaches one of those four calls, and calling one twice for the same run is
a bug the ledger catches: ``LedgerError`` with ``OTEL_EXPORTER_DYNAMIQ_CHECK_LEDGER=true`` (the
test suite sets it), otherwise one warning and the extra count ignored.

The spool's own account is kept apart: a run that was spooled has settled for its export, and what
happens to it later (resent, or dropped as too old or for room) is counted by ``resent`` and
``dropped_from_spool``. The spool may also hold runs an earlier process put there, which no entry
of this one ever held.

Counters (``snapshot()``, the exporter's ``stats`` and its metrics) read only from here.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from types import MappingProxyType

from otel_dynamiq import environment_variables as env
from otel_dynamiq._delivery.stats import DropReason, ExporterStats
from otel_dynamiq._settings import read_variable

_logger = logging.getLogger(__name__)


class LedgerError(AssertionError):
    """A run settled twice, or a split that does not cover its runs: a bug in otel-dynamiq."""


def _checking_from_environment() -> bool:
    """The switch read as every switch of ours is: a value that is no boolean fails, naming the variable."""
    raw = read_variable(env.OTEL_EXPORTER_DYNAMIQ_CHECK_LEDGER)
    return raw is not None and env.parse_bool(env.OTEL_EXPORTER_DYNAMIQ_CHECK_LEDGER, raw)


class Ledger:
    """Counters of run outcomes, settled through entries; safe from any thread (one lock, never awaited)."""

    def __init__(self, *, strict: bool | None = None) -> None:
        self._lock = threading.Lock()
        self._strict = _checking_from_environment() if strict is None else strict
        self._open_runs = 0
        self._runs_sent = 0
        self._requests = 0
        self._retries = 0
        self._dropped: Counter[str] = Counter()
        self._runs_spooled = 0
        self._runs_resent = 0
        self._runs_returned = 0
        self._mistakes_said: set[str] = set()

    def open(self, runs: int) -> Entry:
        """An entry for ``runs`` runs, each of which must now settle exactly once."""
        entry = Entry(self, runs)
        with self._lock:
            self._open_runs += runs
        return entry

    @property
    def open_runs(self) -> int:
        """Runs accepted and not settled yet: in flight, or lost by a bug when nothing is in flight."""
        with self._lock:
            return self._open_runs

    def check_all_settled(self) -> None:
        """Call when nothing can be in flight any more (the exporter's loop has stopped)."""
        runs = self.open_runs
        if runs:
            self._mistake("never settled", f"{runs} runs were accepted and never settled")

    def after_fork_in_child(self) -> None:
        """The parent's batches in flight are the parent's to settle: a child keeps the counts, not them."""
        self._lock = threading.Lock()
        self._open_runs = 0

    def request(self) -> None:
        with self._lock:
            self._requests += 1

    def retry(self) -> None:
        with self._lock:
            self._retries += 1

    def resent(self, runs: int) -> None:
        """Runs the service accepted from the spool: sent, and gone from the spool."""
        with self._lock:
            self._runs_sent += runs
            self._runs_resent += runs

    def dropped_from_spool(self, reason: DropReason, runs: int) -> None:
        """Runs the spool held and let go for good (too old, no room, refused when resent, lost at the end)."""
        if runs > 0:
            with self._lock:
                self._dropped[reason.value] += runs

    def snapshot(self) -> ExporterStats:
        with self._lock:
            return ExporterStats(
                runs_sent=self._runs_sent,
                requests=self._requests,
                retries=self._retries,
                runs_dropped=MappingProxyType(dict(self._dropped)),
                runs_spooled=self._runs_spooled,
                runs_resent=self._runs_resent,
                runs_returned=self._runs_returned,
            )

    def _settle(
        self, entry: Entry, runs: int | None, outcome: str | None = None, reason: DropReason | None = None
    ) -> int:
        """Close ``runs`` of the entry's open runs (all of them when None) and count them under ``outcome``
        (None: handed on by a split, counted when the parts settle), in one hold of the lock; how many were
        really open."""
        with self._lock:
            wanted = entry._open if runs is None else runs
            problem = None
            if entry.runs == 0 and wanted == 0:
                return 0  # an empty batch (``export([])``): nothing to settle, however often
            if entry._open == 0:
                problem = "settled twice"
            elif wanted > entry._open:
                problem = "settled more runs than it holds"
            taken = min(wanted, entry._open)
            entry._open -= taken
            self._open_runs -= taken
            if outcome == "delivered":
                self._runs_sent += taken
            elif outcome == "spooled":
                self._runs_spooled += taken
            elif outcome == "returned":
                self._runs_returned += taken
            elif outcome == "dropped" and taken:  # a reason shows in the stats only once it has runs
                assert reason is not None
                self._dropped[reason.value] += taken
        if problem is not None:
            self._mistake(problem, f"an entry of {entry.runs} runs was {problem} ({wanted} asked, {taken} open)")
        return taken

    def _mistake(self, kind: str, message: str) -> None:
        if self._strict:
            raise LedgerError(message)
        with self._lock:
            first = kind not in self._mistakes_said
            self._mistakes_said.add(kind)
        _logger.log(
            logging.WARNING if first else logging.DEBUG,
            "otel-dynamiq counted its runs wrongly (a bug: please report it): %s",
            message,
        )


class Entry:
    """Runs on their way to the service, each to settle exactly once (see the module docstring)."""

    __slots__ = ("_children", "_ledger", "_open", "runs")

    def __init__(self, ledger: Ledger, runs: int) -> None:
        self._ledger = ledger
        self.runs = runs
        self._open = runs
        self._children: list[Entry] = []

    @property
    def open_runs(self) -> int:
        """Runs of this entry still to settle; none once it is split (its parts hold them then)."""
        with self._ledger._lock:
            return self._open

    def delivered(self) -> None:
        self._ledger._settle(self, None, "delivered")

    def spooled(self) -> None:
        self._ledger._settle(self, None, "spooled")

    def returned(self) -> None:
        self._ledger._settle(self, None, "returned")

    def dropped(self, reason: DropReason, runs: int | None = None) -> None:
        """Drop ``runs`` of the entry's runs (all still open when None)."""
        self._ledger._settle(self, runs, "dropped", reason)

    def split(self, sizes: Sequence[int]) -> list[Entry]:
        """Hand every open run on to parts of these sizes, which then settle them; they must add up."""
        total = sum(sizes)
        with self._ledger._lock:
            covered = total == self._open
        if not covered:
            self._ledger._mistake("split wrongly", f"an entry with {self._open} open runs was split into {total}")
        self._ledger._settle(self, self._open)  # handed on: counted as the parts settle
        parts = [self._ledger.open(size) for size in sizes]
        self._children.extend(parts)
        return parts

    def drop_what_is_open(self, reason: DropReason) -> int:
        """Drop every run of this entry and its parts not settled yet; how many. For the paths that give up
        on a whole export (an unforeseen failure, a loop that never reached it), whatever was settled before."""
        dropped = 0
        with self._ledger._lock:
            own = self._open
        if own:
            dropped += self._ledger._settle(self, own, "dropped", reason)
        for child in list(self._children):
            dropped += child.drop_what_is_open(reason)
        return dropped
