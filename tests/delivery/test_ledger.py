"""The ledger: every run an export accepts settles exactly once, and the counters read only from it.

The rules on their own first (settling twice, splitting, giving up on what is open), then the exporter's
paths that used to count by hand: a mask, a span that cannot be translated, an export after shutdown, a
service that refuses one run of a batch, a service that is out with the spool off. Each ends with every
run of every export settled, and the stats equal to what the collector received and what was dropped.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_dynamiq import DropReason, DynamiqSpanExporter
from otel_dynamiq._delivery.ledger import Ledger, LedgerError
from otel_dynamiq.collector import LocalCollector
from tests.support.runs import make_spans


def test_each_outcome_is_counted_once_under_its_name() -> None:
    ledger = Ledger(strict=True)
    for runs, settle in (
        (3, lambda entry: entry.delivered()),
        (2, lambda entry: entry.spooled()),
        (4, lambda entry: entry.returned()),
        (5, lambda entry: entry.dropped(DropReason.TIMEOUT)),
    ):
        settle(ledger.open(runs))
    ledger.check_all_settled()
    stats = ledger.snapshot()
    assert (stats.runs_sent, stats.runs_spooled, stats.runs_returned) == (3, 2, 4)
    assert stats.runs_dropped == {"timeout": 5}
    assert stats.runs_dropped[DropReason.TIMEOUT] == 5  # a reason reads the same as its string


def test_settling_twice_raises_when_checked() -> None:
    ledger = Ledger(strict=True)
    entry = ledger.open(2)
    entry.delivered()
    with pytest.raises(LedgerError, match="settled twice"):
        entry.dropped(DropReason.TIMEOUT)
    assert ledger.snapshot().runs_dropped == {}


def test_settling_twice_unchecked_is_said_once_and_not_counted(caplog: pytest.LogCaptureFixture) -> None:
    ledger = Ledger(strict=False)
    with caplog.at_level(logging.DEBUG, logger="otel_dynamiq._delivery.ledger"):
        for _ in range(3):
            entry = ledger.open(1)
            entry.delivered()
            entry.spooled()
    assert ledger.snapshot().runs_sent == 3 and ledger.snapshot().runs_spooled == 0
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and "settled twice" in warnings[0].getMessage()


def test_dropping_more_runs_than_an_entry_holds_is_a_mistake() -> None:
    entry = Ledger(strict=True).open(2)
    entry.dropped(DropReason.MASKED, 1)
    with pytest.raises(LedgerError, match="more runs than it holds"):
        entry.dropped(DropReason.MASKED, 2)


def test_a_split_hands_every_open_run_to_its_parts() -> None:
    ledger = Ledger(strict=True)
    batch = ledger.open(5)
    batch.dropped(DropReason.TRANSLATION, 1)
    first, second = batch.split([3, 1])
    assert batch.open_runs == 0 and ledger.open_runs == 4
    first.delivered()
    halves = second.split([1])
    halves[0].dropped(DropReason.REJECTED)
    ledger.check_all_settled()
    assert ledger.snapshot().runs_dropped == {"translation": 1, "rejected": 1}
    with pytest.raises(LedgerError, match="split"):
        ledger.open(3).split([1, 1])


def test_a_run_never_settled_is_found() -> None:
    ledger = Ledger(strict=True)
    ledger.open(2).split([1, 1])[0].delivered()
    with pytest.raises(LedgerError, match="1 runs were accepted and never settled"):
        ledger.check_all_settled()


def test_giving_up_on_an_export_drops_only_what_is_still_open() -> None:
    ledger = Ledger(strict=True)
    batch = ledger.open(6)
    batch.dropped(DropReason.MASKED, 1)
    parts = batch.split([2, 3])
    parts[0].delivered()
    parts[1].split([1, 2])[0].spooled()
    assert batch.drop_what_is_open(DropReason.UNEXPECTED) == 2
    ledger.check_all_settled()
    stats = ledger.snapshot()
    assert (stats.runs_sent, stats.runs_spooled, stats.runs_dropped) == (2, 1, {"masked": 1, "unexpected": 2})


def _mask_dropping_and_failing(run: dict[str, Any]) -> dict[str, Any] | None:
    if run["name"] == "drop me":
        return None
    if run["name"] == "fail me":
        raise RuntimeError("the mask broke")
    return run


class _SpanThatCannotBeRead(ReadableSpan):
    """A span from a broken producer: reading its attributes raises, so it cannot become a run."""

    @property
    def attributes(self) -> Any:
        raise RuntimeError("a broken producer")


def _named(name: str) -> ReadableSpan:
    span = make_spans(1)[0]
    span._name = name
    return span


def test_every_path_of_an_export_settles_each_run_once(collector: LocalCollector) -> None:
    exporter = DynamiqSpanExporter(endpoint=collector.url, mask=_mask_dropping_and_failing, spool=False)
    template = make_spans(1)[0]
    broken = _SpanThatCannotBeRead(name="broken", context=template.context, start_time=1, end_time=2)
    spans = [_named("kept"), _named("drop me"), _named("fail me"), _named("kept too"), broken]
    result = exporter.export(spans)
    exporter.shutdown()
    assert exporter.export([_named("late")]) is SpanExportResult.FAILURE
    assert exporter._ledger.open_runs == 0
    stats = exporter.stats
    received = [run["name"] for run in collector.store.runs()]
    assert sorted(received) == ["kept", "kept too"] and stats.runs_sent == 2
    assert dict(stats.runs_dropped) == {"masked": 1, "mask_failed": 1, "translation": 1, "shutdown": 1}
    assert stats.runs_sent + stats.runs_dropped_total == len(spans) + 1
    # What could be sent arrived: spans that could never become runs are counted, and retrying cannot help them.
    assert result is SpanExportResult.SUCCESS


def test_a_child_process_does_not_inherit_its_parents_runs_in_flight(collector: LocalCollector) -> None:
    """A fork while a batch is being exported: the parent settles it; the child's ledger starts with none open
    (else the child's shutdown, checked, would call them never settled)."""
    script = textwrap.dedent(
        f"""
        import os
        from otel_dynamiq import DynamiqSpanExporter
        from tests.support.runs import make_spans

        exporter = DynamiqSpanExporter(endpoint={collector.url!r})
        held = exporter._ledger.open(3)  # as if an export were under way on another thread at the fork
        pid = os.fork()
        if pid == 0:
            span = make_spans(1)[0]
            span._name = "from the child"
            exporter.export([span])
            exporter.shutdown()
            os._exit(0 if exporter._ledger.open_runs == 0 and exporter.stats.runs_sent == 1 else 3)
        _, status = os.waitpid(pid, 0)
        held.delivered()
        exporter.shutdown()
        print(os.waitstatus_to_exitcode(status))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=os.environ.copy()
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0", done.stderr
    assert [run["name"] for run in collector.store.runs()] == ["from the child"]


def test_an_empty_export_after_shutdown_is_no_mistake(collector: LocalCollector) -> None:
    exporter = DynamiqSpanExporter(endpoint=collector.url)
    exporter.shutdown()
    assert exporter.export([]) is SpanExportResult.FAILURE
    assert exporter.stats.runs_dropped_total == 0


def test_export_takes_any_iterable_of_spans(collector: LocalCollector) -> None:
    exporter = DynamiqSpanExporter(endpoint=collector.url, spool=False)
    try:
        assert exporter.export(span for span in make_spans(2)) is SpanExportResult.SUCCESS  # type: ignore[arg-type]
    finally:
        exporter.shutdown()
    assert len(collector.store.runs()) == 2


def test_shutdown_checks_the_ledger_only_with_no_export_under_way(
    collector: LocalCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export that begins while shutdown() checks the ledger is not taken for runs never settled.

    The sleeps stand in for the thread switches that open the window: the check reading the count of
    exports under way, then an export opening its entry before the check reads the ledger."""
    checking = threading.Event()
    check, export_batch = Ledger.check_all_settled, DynamiqSpanExporter._export_batch

    def check_after_a_switch(self: Ledger) -> None:
        checking.set()
        time.sleep(0.2)
        check(self)

    def export_after_a_switch(self: DynamiqSpanExporter, *arguments: Any) -> SpanExportResult:
        time.sleep(0.3)
        return export_batch(self, *arguments)

    monkeypatch.setattr(Ledger, "check_all_settled", check_after_a_switch)
    monkeypatch.setattr(DynamiqSpanExporter, "_export_batch", export_after_a_switch)
    exporter = DynamiqSpanExporter(endpoint=collector.url, spool=False)
    late = threading.Thread(target=lambda: (checking.wait(), exporter.export(make_spans(2))))
    late.start()
    exporter.shutdown()
    late.join()
    assert dict(exporter.stats.runs_dropped) == {"shutdown": 2}


def test_an_export_still_translating_when_shutdown_ends_counts_its_runs_as_shutdown(collector: LocalCollector) -> None:
    """Its loop closed under it: the runs are dropped as ``shutdown``, not as a failure nobody foresaw."""

    def slow_mask(run: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.5)
        return run

    exporter = DynamiqSpanExporter(endpoint=collector.url, mask=slow_mask, spool=False)
    worker = threading.Thread(target=exporter.export, args=(make_spans(1),))
    worker.start()
    time.sleep(0.1)
    exporter.shutdown()
    worker.join()
    assert dict(exporter.stats.runs_dropped) == {"shutdown": 1}


def test_the_check_is_a_switch_like_every_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_CHECK_LEDGER", "off")
    Ledger().open(1).delivered()  # read as false: a mistake would only be logged
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_CHECK_LEDGER", "maybe")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_DYNAMIQ_CHECK_LEDGER='maybe' is not a boolean"):
        Ledger()
