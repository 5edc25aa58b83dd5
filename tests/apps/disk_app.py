"""A small traced program for the read-only and full-disk tests; the exporter is configured from the environment.

    disk_app.py export N [--payload BYTES] [--hold | --then-exit]
        end N spans, one export each (a SimpleSpanProcessor), and print a line: their run ids and what
        the spool holds (in all, and on disk). Then:
          (no option)  shut down and print the exporter's counters
          --hold       wait for a line on stdin, wait until the spool is empty, print the counters, wait
                       for another line (the test looks at the disk meanwhile), then shut down
          --then-exit  wait for a line on stdin, then shut down at once and print the counters
    disk_app.py resend
        start, wait until the spool is empty (what an earlier process left), shut down, print the counters

Only the OpenTelemetry SDK: no Dynamiq, so it starts in a moment. Every line it prints is JSON.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from otel_dynamiq import DynamiqSpanExporter


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def counters(exporter: DynamiqSpanExporter) -> dict[str, Any]:
    stats = exporter.stats
    return {
        "sent": stats.runs_sent,
        "spooled": stats.runs_spooled,
        "resent": stats.runs_resent,
        "dropped": dict(stats.runs_dropped),
    }


def wait_until(exporter: DynamiqSpanExporter, condition: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            sys.exit(f"gave up waiting; exporter counters: {counters(exporter)}")
        time.sleep(0.1)


def spool_runs(exporter: DynamiqSpanExporter, from_disk: bool = False) -> int:
    state = exporter.spool_state(from_disk=from_disk)
    return state.runs if state is not None else 0


def export(exporter: DynamiqSpanExporter, spans: int, payload: int) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from otel_dynamiq._translation.span_to_run import run_uuid

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("disk-app")
    run_ids = []
    for index in range(spans):
        with tracer.start_as_current_span(f"step {index}", attributes={"input.value": "x" * payload}) as span:
            context = span.get_span_context()
        run_ids.append(run_uuid(context.trace_id, context.span_id))
    state = exporter.spool_state()
    say(
        run_ids=run_ids,
        where=state.where if state is not None else None,
        spool_runs=state.runs if state is not None else 0,
        on_disk_runs=spool_runs(exporter, from_disk=True),
    )


def main() -> None:
    exporter = DynamiqSpanExporter()
    if sys.argv[1] == "resend":
        wait_until(exporter, lambda: spool_runs(exporter) == 0)
    else:
        payload = int(sys.argv[sys.argv.index("--payload") + 1]) if "--payload" in sys.argv else 100
        export(exporter, int(sys.argv[2]), payload)
        if "--hold" in sys.argv:
            sys.stdin.readline()  # the test frees the disk, or starts the service
            wait_until(exporter, lambda: spool_runs(exporter) == 0)
            say(**counters(exporter))
            sys.stdin.readline()
        elif "--then-exit" in sys.argv:
            sys.stdin.readline()
    exporter.shutdown()
    say(**counters(exporter))


if __name__ == "__main__":
    main()
