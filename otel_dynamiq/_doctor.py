"""``otel-dynamiq doctor``: is the configuration sound, and does the service accept a run?

Sends one small test run, through the real exporter, in a trace of its own,
says what happened in words a person can act on, what the spool holds, and
which instrumentations would load. Instrumentations are checked before the
test run is sent, so a configuration that cannot deliver still gets them listed.
Never prints the key.
"""

from __future__ import annotations

import os
from typing import TextIO

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_dynamiq import environment_variables as env
from otel_dynamiq._config import load_config
from otel_dynamiq._delivery.spool import SpoolState, inspect_spool
from otel_dynamiq._instrumentations import describe_instrumentations, inspect_instrumentations
from otel_dynamiq.exporter import DynamiqSpanExporter
from otel_dynamiq.processors._content_events import CAPTURE_CONTENT_VARIABLE, content_comes_as_events

CONFIG_ERROR = 2
DELIVERY_ERROR = 1


def _test_span() -> list[object]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "otel-dynamiq-doctor"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("otel_dynamiq.doctor").start_as_current_span("otel-dynamiq doctor"):
        pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def describe_spool(state: SpoolState | None) -> list[str]:
    if state is None:
        return [f"spool: off ({env.OTEL_EXPORTER_DYNAMIQ_SPOOL}=false); runs undeliverable in time are dropped"]
    lines = []
    if not state.on_disk:
        lines.append(f"spool: in memory only, because the disk spool cannot be used: {state.problem}")
        lines.append(f"  set {env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR} to a directory only this user can write")
    else:
        lines.append(f"spool: {state.where}")
    if state.bodies:
        oldest = f", the oldest {state.oldest_age_seconds:.0f} s old" if state.oldest_age_seconds is not None else ""
        lines.append(
            f"  {state.runs} runs waiting in {state.bodies} bodies ({state.size_bytes:,} bytes{oldest}), "
            f"{state.leased} being resent now"
        )
    else:
        lines.append("  nothing waiting")
    return lines


def describe_content_capture() -> str:
    setting = os.environ.get(CAPTURE_CONTENT_VARIABLE, "").strip()
    if not setting or setting.lower() in ("false", "no_content"):
        return f"GenAI content: not captured ({CAPTURE_CONTENT_VARIABLE} is {setting or 'unset'})"
    if content_comes_as_events():
        return f"GenAI content: {CAPTURE_CONTENT_VARIABLE}={setting}; the log events are routed into the runs"
    return f"GenAI content: {CAPTURE_CONTENT_VARIABLE}={setting}; carried on the spans"


def run_doctor(out: TextIO) -> int:
    try:
        config = load_config()
        # The test run must not wait in the spool (it would be reported as a success), and the
        # doctor must not resend what the spool holds: it only reports on it.
        exporter = DynamiqSpanExporter(spool=False)
    except ValueError as exc:
        print(f"configuration: not usable: {exc}", file=out)
        return CONFIG_ERROR
    key_source = "set" if config.access_key else "not set (allowed for a loopback endpoint)"
    print(f"configuration: endpoint {config.traces_url}", file=out)
    print(f"  access key: {key_source} ({env.DYNAMIQ_ACCESS_KEY} or {env.DYNAMIQ_SERVICE_TOKEN})", file=out)
    print(f"  timeout {config.timeout:g} s, compression {config.compression}", file=out)
    print(f"  max request {config.max_request_bytes:,} bytes, extra headers: {len(config.headers)}", file=out)
    for line in describe_spool(inspect_spool(config)):
        print(line, file=out)
    for line in describe_instrumentations(inspect_instrumentations()):
        print(line, file=out)
    print(describe_content_capture(), file=out)
    try:
        result = exporter.export(_test_span())  # type: ignore[arg-type]
    finally:
        exporter.shutdown(timeout_millis=config.timeout * 1000)
    stats = exporter.stats
    if result is SpanExportResult.SUCCESS:
        print(f"service: accepted a test run ({stats.requests} request(s), {stats.retries} retried)", file=out)
        return 0
    reasons = ", ".join(f"{reason}" for reason in stats.runs_dropped) or "unknown"
    print(f"service: the test run was not delivered ({reasons}); the warning above says why", file=out)
    return DELIVERY_ERROR
