"""Delivery against real servers on 127.0.0.1: the local collector and a misbehaving one."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import orjson
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq.collector import LocalCollector
from tests.support.common import FAKE_KEY, wait_for_runs
from tests.support.runs import make_spans
from tests.support.servers import CutOff, Hang, Recorded, Reply, Reset, ScriptedServer


def exporter_for(made: list[DynamiqSpanExporter], url: str, **kwargs: object) -> DynamiqSpanExporter:
    exporter = DynamiqSpanExporter(endpoint=url, **kwargs)  # type: ignore[arg-type]
    made.append(exporter)
    return exporter


def test_batch_arrives_with_key_and_json(exporters: list[DynamiqSpanExporter]) -> None:
    with ScriptedServer(Reply()) as server:
        exporter = exporter_for(exporters, server.url, access_key=FAKE_KEY)
        assert exporter.export(make_spans(3)) is SpanExportResult.SUCCESS
    (request,) = server.requests
    assert request.path == "/v1/traces"
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("otel-dynamiq/")
    assert sorted(run["name"] for run in request.runs) == ["span-0", "span-1", "span-2"]
    assert exporter.stats.runs_sent == 3 and exporter.stats.requests == 1


def test_500_then_200_is_retried_and_delivered(exporters: list[DynamiqSpanExporter]) -> None:
    with ScriptedServer(Reply(500), Reply(503), Reply(200)) as server:
        exporter = exporter_for(exporters, server.url)
        assert exporter.export(make_spans(2)) is SpanExportResult.SUCCESS
    assert len(server.requests) == 3
    assert server.requests[0].runs == server.requests[2].runs
    stats = exporter.stats
    assert (stats.runs_sent, stats.retries, stats.requests, stats.runs_dropped_total) == (2, 2, 3, 0)


def test_429_waits_for_retry_after(exporters: list[DynamiqSpanExporter]) -> None:
    with ScriptedServer(Reply(429, headers={"Retry-After": "1"}), Reply(200)) as server:
        exporter = exporter_for(exporters, server.url, timeout=10)
        assert exporter.export(make_spans(1)) is SpanExportResult.SUCCESS
    first, second = server.requests
    # A lower bound only: the exporter must not come back before it was told to.
    assert second.at - first.at >= 0.95


def test_retry_after_beyond_the_deadline_gives_up_at_once(exporters: list[DynamiqSpanExporter]) -> None:
    with ScriptedServer(Reply(429, headers={"Retry-After": "3600"})) as server:
        exporter = exporter_for(exporters, server.url, timeout=5, spool=False)
        assert exporter.export(make_spans(2)) is SpanExportResult.FAILURE
    assert len(server.requests) == 1
    assert exporter.stats.runs_dropped == {"timeout": 2}


def test_400_is_halved_until_the_refused_run_is_alone_and_the_rest_arrive(
    exporters: list[DynamiqSpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    """The export still fails (a run was lost), but only the refused run is: the others arrive."""
    caplog.set_level(logging.WARNING, logger="otel_dynamiq")

    def refuse_span_3(request: Recorded) -> Reply:
        names = [run["name"] for run in request.runs]
        return Reply(400, body=b'{"detail": "runs[0] lacks name"}') if "span-3" in names else Reply(200)

    with ScriptedServer(refuse_span_3) as server:
        exporter = exporter_for(exporters, server.url)
        assert exporter.export(make_spans(7)) is SpanExportResult.FAILURE
    names = [[run["name"] for run in request.runs] for request in server.requests]
    accepted = [name for request in names if "span-3" not in request for name in request]
    assert sorted(accepted) == sorted(f"span-{i}" for i in range(7) if i != 3)
    assert exporter.stats.runs_dropped == {"rejected": 1} and exporter.stats.runs_sent == 6
    lines = [record.getMessage() for record in caplog.records if record.name.startswith("otel_dynamiq")]
    assert len(lines) == 1
    assert "Dropped 1 Dynamiq runs" in lines[0] and "HTTP 400" in lines[0] and "runs[0] lacks name" in lines[0]


def test_server_slower_than_the_deadline(exporters: list[DynamiqSpanExporter]) -> None:
    with ScriptedServer(Reply(200, delay=30)) as server:
        exporter = exporter_for(exporters, server.url, timeout=1, spool=False)
        assert exporter.export(make_spans(3)) is SpanExportResult.FAILURE
    assert exporter.stats.runs_dropped == {"timeout": 3}
    assert exporter.stats.runs_sent == 0


def test_reset_connection_is_retried(exporters: list[DynamiqSpanExporter]) -> None:
    with ScriptedServer(Reset(), CutOff(), Reply(200)) as server:
        exporter = exporter_for(exporters, server.url)
        assert exporter.export(make_spans(1)) is SpanExportResult.SUCCESS
    assert len(server.requests) == 3
    assert exporter.stats.retries == 2


def test_refused_connection_is_retried_until_the_deadline(exporters: list[DynamiqSpanExporter]) -> None:
    with ScriptedServer() as server:
        url = server.url
    exporter = exporter_for(exporters, url, timeout=1.5, spool=False)  # nothing listens there any more
    assert exporter.export(make_spans(2)) is SpanExportResult.FAILURE
    stats = exporter.stats
    assert stats.retries >= 1
    assert stats.runs_dropped == {"timeout": 2}


def test_redirect_is_not_followed_and_the_key_stays_home(exporters: list[DynamiqSpanExporter]) -> None:
    with ScriptedServer(Reply(200)) as elsewhere:
        moved = Reply(307, headers={"Location": elsewhere.url + "/v1/traces"})
        with ScriptedServer(moved) as server:
            exporter = exporter_for(exporters, server.url, access_key=FAKE_KEY)
            assert exporter.export(make_spans(1)) is SpanExportResult.FAILURE
    assert len(server.requests) == 1
    assert elsewhere.requests == []
    assert exporter.stats.runs_dropped == {"redirect": 1}


def test_oversized_batch_is_split_into_concurrent_requests(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter]
) -> None:
    exporter = exporter_for(exporters, collector.url, max_request_bytes=16 * 1024)
    assert exporter.export(make_spans(60, payload="p" * 1000)) is SpanExportResult.SUCCESS
    requests = collector.store.requests()
    assert len(requests) > 1
    assert all(request["body_bytes"] <= 16 * 1024 for request in requests)
    assert sum(request["run_count"] for request in requests) == 60
    assert len(collector.store.runs()) == 60


def test_single_run_over_the_cap_is_truncated_not_dropped(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter]
) -> None:
    exporter = exporter_for(exporters, collector.url, max_request_bytes=16 * 1024)
    assert exporter.export(make_spans(1, payload="big" * 20_000)) is SpanExportResult.SUCCESS
    (run,) = collector.store.runs()
    assert run["input"].startswith("bigbig")
    assert "truncated by otel-dynamiq" in run["input"]


def test_413_splits_until_the_server_accepts(exporters: list[DynamiqSpanExporter]) -> None:
    def only_two_runs_at_a_time(request: Recorded) -> Reply:
        return Reply(413) if len(request.runs) > 2 else Reply(200)

    with ScriptedServer(only_two_runs_at_a_time) as server:
        exporter = exporter_for(exporters, server.url)
        assert exporter.export(make_spans(7)) is SpanExportResult.SUCCESS
    accepted = [run["name"] for request in server.requests if len(request.runs) <= 2 for run in request.runs]
    assert sorted(accepted) == sorted(f"span-{i}" for i in range(7))
    assert exporter.stats.runs_sent == 7


def test_413_for_a_single_run_drops_it_without_looping(exporters: list[DynamiqSpanExporter]) -> None:
    with ScriptedServer(Reply(413)) as server:
        exporter = exporter_for(exporters, server.url)
        assert exporter.export(make_spans(1)) is SpanExportResult.FAILURE
    assert len(server.requests) == 1
    assert exporter.stats.runs_dropped == {"too_large": 1}


def test_gzip_compression(collector: LocalCollector, exporters: list[DynamiqSpanExporter]) -> None:
    exporter = exporter_for(exporters, collector.url, compression="gzip")
    assert exporter.export(make_spans(5, payload="same text " * 100)) is SpanExportResult.SUCCESS
    (request,) = collector.store.requests()
    assert request["content_encoding"] == "gzip"
    assert request["body_bytes"] < 5 * 1000
    assert len(collector.store.runs()) == 5


def test_shutdown_is_bounded_while_the_server_hangs(exporters: list[DynamiqSpanExporter]) -> None:
    with ScriptedServer(Hang()) as server:
        exporter = exporter_for(exporters, server.url, timeout=60, spool=False)
        results: list[SpanExportResult] = []
        exporting = threading.Thread(target=lambda: results.append(exporter.export(make_spans(4))))
        exporting.start()
        while not server.requests:
            time.sleep(0.01)
        stopping = threading.Thread(target=exporter.shutdown, kwargs={"timeout_millis": 500})
        stopping.start()
        stopping.join(timeout=10)
        assert not stopping.is_alive(), "shutdown() ignored its timeout"
        exporting.join(timeout=10)
        assert results == [SpanExportResult.FAILURE]
    assert exporter.stats.runs_dropped == {"shutdown": 4}
    assert exporter.export(make_spans(1)) is SpanExportResult.FAILURE
    exporter.shutdown()  # idempotent


def test_shutdown_interrupts_a_backoff_wait(exporters: list[DynamiqSpanExporter]) -> None:
    with ScriptedServer(Reply(503, headers={"Retry-After": "50"})) as server:
        exporter = exporter_for(exporters, server.url, timeout=60, spool=False)
        exporting = threading.Thread(target=exporter.export, args=(make_spans(1),))
        exporting.start()
        while not server.requests:
            time.sleep(0.01)
        exporter.shutdown(timeout_millis=5000)
        exporting.join(timeout=10)
        assert not exporting.is_alive(), "export() kept sleeping through shutdown"
    assert exporter.stats.runs_dropped == {"shutdown": 1}


def test_force_flush_waits_for_requests_in_flight(exporters: list[DynamiqSpanExporter]) -> None:
    with ScriptedServer(Reply(200, delay=0.5)) as server:
        exporter = exporter_for(exporters, server.url)
        exporting = threading.Thread(target=exporter.export, args=(make_spans(2),))
        exporting.start()
        while not server.requests:
            time.sleep(0.01)
        assert exporter.force_flush(timeout_millis=10_000) is True
        assert exporter.stats.runs_sent == 2
        exporting.join()


def test_concurrent_exports_share_one_client(collector: LocalCollector, exporters: list[DynamiqSpanExporter]) -> None:
    exporter = exporter_for(exporters, collector.url)
    batches = [make_spans(10) for _ in range(8)]
    threads = [threading.Thread(target=exporter.export, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(collector.store.runs()) == 80
    assert exporter.stats.runs_sent == 80


def test_successive_asyncio_run_loops_exporting_from_inside_the_loop(collector: LocalCollector) -> None:
    exporter = DynamiqSpanExporter(endpoint=collector.url)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # export() runs inside the app's loop
    tracer = provider.get_tracer("async-app")

    async def one_request(index: int) -> None:
        with tracer.start_as_current_span(f"request-{index}"):
            await asyncio.sleep(0)

    for index in range(25):
        asyncio.run(one_request(index))
    provider.shutdown()
    names = sorted(run["name"] for run in collector.store.runs())
    assert names == sorted(f"request-{index}" for index in range(25))


def test_batch_processor_end_to_end_with_nesting(collector: LocalCollector) -> None:
    exporter = DynamiqSpanExporter(endpoint=collector.url)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
        pass
    provider.shutdown()
    runs = {run["name"]: run for run in wait_for_runs(collector, 2)}
    assert runs["child"]["parent_run_id"] == runs["root"]["id"]
    assert runs["root"]["parent_run_id"] is None


def test_the_key_never_reaches_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = Reply(401, body=orjson.dumps({"detail": f"bad key Bearer {FAKE_KEY}"}))
    with ScriptedServer(Reply(503), echo) as server:
        exporter = DynamiqSpanExporter(endpoint=server.url, access_key=FAKE_KEY)
        assert exporter.export(make_spans(1)) is SpanExportResult.FAILURE
        exporter.shutdown()
    assert server.requests[0].headers["authorization"] == f"Bearer {FAKE_KEY}"  # it was really sent
    assert "HTTP 401" in caplog.text
    assert FAKE_KEY not in caplog.text
    assert FAKE_KEY not in repr(exporter)


def test_a_key_echoed_across_the_snippet_cut_is_masked_whole(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    padding = "x" * 190  # the key starts just before the 200th character of the body
    with ScriptedServer(Reply(401, body=f"{padding}{FAKE_KEY}{FAKE_KEY}".encode())) as server:
        exporter = DynamiqSpanExporter(endpoint=server.url, access_key=FAKE_KEY)
        assert exporter.export(make_spans(1)) is SpanExportResult.FAILURE
        exporter.shutdown()
    assert "HTTP 401" in caplog.text
    assert FAKE_KEY[:5] not in caplog.text


def test_a_refused_key_is_said_once_and_every_drop_counted(
    exporters: list[DynamiqSpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="otel_dynamiq")
    with ScriptedServer(Reply(401, body=b'{"detail": "invalid token"}')) as server:
        exporter = exporter_for(exporters, server.url, access_key=FAKE_KEY)
        for _ in range(3):
            assert exporter.export(make_spans(2)) is SpanExportResult.FAILURE
    assert len(server.requests) == 3
    assert exporter.stats.runs_dropped == {"rejected": 6}
    warnings = [record.getMessage() for record in caplog.records if record.name.startswith("otel_dynamiq")]
    assert len(warnings) == 1
    assert "HTTP 401" in warnings[0] and "the access key was refused" in warnings[0]
    assert FAKE_KEY not in caplog.text


def test_counters_are_published_as_metrics(exporters: list[DynamiqSpanExporter]) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    with ScriptedServer(Reply(200), Reply(503), Reply(200), Reply(400)) as server:
        exporter = exporter_for(exporters, server.url, meter_provider=MeterProvider([reader]))
        assert exporter.export(make_spans(3)) is SpanExportResult.SUCCESS
        assert exporter.export(make_spans(1)) is SpanExportResult.SUCCESS  # after one retry
        assert exporter.export(make_spans(2)) is SpanExportResult.FAILURE  # halved, and each refused alone

    values: dict[tuple[str, tuple[tuple[str, object], ...]], object] = {}
    for resource_metrics in reader.get_metrics_data().resource_metrics:  # type: ignore[union-attr]
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:  # type: ignore[union-attr]
                    values[(metric.name, tuple(sorted(point.attributes.items())))] = point.value  # type: ignore[union-attr]
    assert values == {
        ("otel_dynamiq.exporter.runs.sent", ()): 4,
        ("otel_dynamiq.exporter.requests", ()): 6,
        ("otel_dynamiq.exporter.retries", ()): 1,
        ("otel_dynamiq.exporter.runs.spooled", ()): 0,
        ("otel_dynamiq.exporter.runs.resent", ()): 0,
        ("otel_dynamiq.exporter.runs.returned", ()): 0,
        ("otel_dynamiq.exporter.runs.dropped", (("reason", "rejected"),)): 2,
    }


def test_a_batch_the_starved_loop_never_reached_is_counted_once(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter]
) -> None:
    """An export gives up at its deadline; if the loop never began the batch, export() itself counts it."""
    exporter = DynamiqSpanExporter(endpoint=collector.url, timeout=2)
    exporters.append(exporter)
    assert exporter.export(make_spans(1)) is SpanExportResult.SUCCESS  # the loop is up and ready
    runtime = exporter._runtime
    assert runtime is not None
    runtime.loop.call_soon(lambda: time.sleep(4.5))  # a starved loop: busy past the deadline and its grace
    assert exporter.export(make_spans(3)) is SpanExportResult.FAILURE
    time.sleep(2)  # the loop comes back: the abandoned batch must be neither sent nor counted again
    assert exporter.export(make_spans(1)) is SpanExportResult.SUCCESS
    assert exporter.stats.runs_dropped == {"timeout": 3}
    assert exporter.stats.runs_sent == 2
    assert len(collector.store.runs()) == 2
