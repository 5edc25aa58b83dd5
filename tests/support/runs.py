"""Runs and spans to feed the exporter and the collector."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from tests.support.common import SpanRecorder


def sample_run(**fields: Any) -> dict[str, Any]:
    run = {
        "id": "00000000-0000-4000-8000-000000000001",
        "name": "n",
        "type": "node",
        "trace_id": "00000000-0000-4000-8000-0000000000aa",
        "source_id": "s",
        "session_id": "t",
        "start_time": "2026-01-01T00:00:00+00:00",
        "end_time": "2026-01-01T00:00:01+00:00",
        "parent_run_id": None,
        "status": "succeeded",
        "input": None,
        "output": None,
        "metadata": {},
        "error": None,
        "executions": [],
        "tags": [],
    }
    run.update(fields)
    return run


def make_spans(count: int, payload: str = "") -> list[ReadableSpan]:
    recorder = SpanRecorder()
    for index in range(count):
        with recorder.tracer.start_as_current_span(f"span-{index}", attributes={"input.value": payload}):
            pass
    spans = recorder.spans()
    recorder.provider.shutdown()
    return spans
