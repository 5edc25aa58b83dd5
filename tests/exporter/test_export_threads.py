"""``export()`` from many threads at once, as the gateway's handlers and SimpleSpanProcessor call it.

Thirty-two threads start exporting together (a barrier), each its own traces,
against the real local collector: every run must arrive exactly once, under
its own parent, each call must report its own outcome, and the counters must
add up. Then the same with the service out, so that the spool takes bodies
from every thread at once, and delivers each of them once when it is back.

Thread switches are made far more frequent than usual while these tests run,
so an interleaving that breaks a call's own state is likely, not a rarity.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq.collector import LocalCollector
from tests.support.common import wait_for
from tests.support.servers import free_port

THREADS = 32
ROUNDS = 3
CHILDREN = 7
PAYLOAD = "x" * 3000
"""With the smallest request size allowed (16 KiB), each trace takes two or three bodies: sends within a call too."""
SMALLEST_REQUEST_BYTES = 16 * 1024
RUNS = THREADS * ROUNDS * (1 + CHILDREN)


@pytest.fixture(autouse=True)
def frequent_thread_switches() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def traces(count: int) -> list[list[ReadableSpan]]:
    """``count`` traces of a root and its children, each trace the batch of one export() call."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("threads")
    for index in range(count):
        with tracer.start_as_current_span(f"root-{index}"):
            for child in range(CHILDREN):
                with tracer.start_as_current_span(f"child-{child}", attributes={"input.value": PAYLOAD}):
                    pass
    provider.shutdown()
    by_trace: dict[int, list[ReadableSpan]] = defaultdict(list)
    for span in memory.get_finished_spans():
        by_trace[span.context.trace_id].append(span)
    assert len(by_trace) == count
    return list(by_trace.values())


def export_from_threads(exporter: DynamiqSpanExporter) -> list[SpanExportResult]:
    """Every thread exports ROUNDS traces of its own, all starting together; what every call returned."""
    batches = traces(THREADS * ROUNDS)
    start = threading.Barrier(THREADS)
    results: list[SpanExportResult] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def work(mine: list[list[ReadableSpan]]) -> None:
        try:
            start.wait(timeout=30)
            outcomes = [exporter.export(batch) for batch in mine]
        except BaseException as exc:
            with lock:
                failures.append(exc)
            raise
        with lock:
            results.extend(outcomes)

    threads = [
        threading.Thread(target=work, args=(batches[index::THREADS],), name=f"exporting-{index}")
        for index in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert len(results) == THREADS * ROUNDS
    return results


def assert_every_run_once_under_its_parent(collector: LocalCollector) -> None:
    runs = collector.store.runs()
    assert len(runs) == RUNS
    assert set(collector.store.delivery_counts().values()) == {1}
    by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for received in runs:
        by_trace[received["trace_id"]].append(received)
    assert len(by_trace) == THREADS * ROUNDS
    for trace in by_trace.values():
        (root,) = (received for received in trace if received["name"].startswith("root-"))
        children = [received for received in trace if received is not root]
        assert root["parent_run_id"] is None
        assert sorted(child["name"] for child in children) == [f"child-{index}" for index in range(CHILDREN)]
        assert {child["parent_run_id"] for child in children} == {root["id"]}


def our_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("otel_dynamiq") and record.levelno >= logging.WARNING
    ]


def test_concurrent_exports_each_deliver_their_own_runs_once(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="otel_dynamiq")
    exporter = DynamiqSpanExporter(endpoint=collector.url, max_request_bytes=SMALLEST_REQUEST_BYTES)
    exporters.append(exporter)
    results = export_from_threads(exporter)
    assert set(results) == {SpanExportResult.SUCCESS}
    # SUCCESS means the service took the runs: they are all there now, without waiting.
    assert_every_run_once_under_its_parent(collector)
    stats = exporter.stats
    assert stats.runs_sent == RUNS
    assert stats.requests == len(collector.store.requests()) > THREADS * ROUNDS  # several bodies per call
    assert sum(request["run_count"] for request in collector.store.requests()) == RUNS
    assert (stats.retries, stats.runs_spooled, stats.runs_resent, dict(stats.runs_dropped)) == (0, 0, 0, {})
    assert exporter.force_flush(timeout_millis=5000)
    assert our_warnings(caplog) == []


def test_concurrent_exports_while_the_service_is_out_all_wait_in_the_spool_and_arrive_once(
    exporters: list[DynamiqSpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="otel_dynamiq")
    port = free_port()  # nothing listens there: every connection is refused, a retryable failure
    exporter = DynamiqSpanExporter(
        endpoint=f"http://127.0.0.1:{port}", timeout=1, max_request_bytes=SMALLEST_REQUEST_BYTES
    )
    exporters.append(exporter)
    results = export_from_threads(exporter)
    assert set(results) == {SpanExportResult.SUCCESS}  # kept for later is a success: nothing was lost
    stats = exporter.stats
    assert (stats.runs_spooled, stats.runs_sent, dict(stats.runs_dropped)) == (RUNS, 0, {})
    state = exporter.spool_state()
    assert state is not None and state.on_disk and state.runs == RUNS
    warnings = our_warnings(caplog)
    assert warnings and all("they wait in the spool" in warning for warning in warnings)
    assert len(warnings) <= 3  # once for each kind of cause (refused, deadline passed), not once per call

    with LocalCollector(port=port) as collector:  # the service is back: the spool's bodies are resent
        resent: Callable[[], bool] = lambda: exporter.stats.runs_resent >= RUNS  # noqa: E731
        wait_for(resent, timeout=60)
        assert_every_run_once_under_its_parent(collector)
    stats = exporter.stats
    assert (stats.runs_resent, stats.runs_sent, stats.runs_spooled, dict(stats.runs_dropped)) == (RUNS, RUNS, RUNS, {})
    state = exporter.spool_state()
    assert state is not None and state.runs == 0
