"""An instrumented Dynamiq application for the spool's fault tests; the exporter is configured from the environment.

    spooling_app.py produce N [--full-disk]   run N workflows, print their run ids once all are in the
                                              spool, then wait for a line on stdin and for the spool to
                                              empty (or for SIGKILL)
    spooling_app.py produce-and-exit N        run N workflows and exit at once (shutdown at exit)
    spooling_app.py resend                    start, wait until the spool is empty, print the counters

With --full-disk, files may hold at most a kilobyte (RLIMIT_FSIZE), as on a full disk.
"""

import json
import os
import sys
import time
from collections.abc import Callable

from otel_dynamiq import DynamiqSpanExporter


def wait_until(exporter: DynamiqSpanExporter, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            sys.exit(f"gave up waiting; exporter stats: {exporter.stats}")
        time.sleep(0.05)


def spool_runs(exporter: DynamiqSpanExporter) -> int:
    state = exporter.spool_state()
    return state.runs if state is not None else 0


def resend(exporter: DynamiqSpanExporter) -> None:
    """Starting is enough: the exporter finds what an earlier process left and resends it."""
    wait_until(exporter, lambda: spool_runs(exporter) == 0, timeout=30)  # a dead holder's lease lasts longer
    exporter.shutdown()
    print(json.dumps({"resent": exporter.stats.runs_resent}))


def produce(exporter: DynamiqSpanExporter, mode: str, workflows: int, full_disk: bool) -> None:
    # Imported only here: resending needs neither Dynamiq nor the SDK's tracer.
    from opentelemetry.instrumentation.dynamiq import DynamiqInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otel_dynamiq._translation.span_to_run import run_uuid
    from tests.support.dynamiq_apps import sequential_flow

    if full_disk:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    produced = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(produced))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=100))
    DynamiqInstrumentor().instrument(tracer_provider=provider)
    for index in range(workflows):
        sequential_flow().run_sync(input_data={"who": f"{mode}-{os.getpid()}-{index}"})
    if mode == "produce-and-exit":
        return  # the provider shuts down at exit, with whatever is still undelivered

    expected = [run_uuid(span.context.trace_id, span.context.span_id) for span in produced.get_finished_spans()]
    provider.force_flush()
    wait_until(exporter, lambda: exporter.stats.runs_spooled >= len(expected))
    print(json.dumps(expected), flush=True)
    sys.stdin.readline()  # the test makes the service answer again, or kills us
    wait_until(exporter, lambda: spool_runs(exporter) == 0)
    provider.shutdown()
    stats = exporter.stats
    print(json.dumps({"resent": stats.runs_resent, "dropped": dict(stats.runs_dropped)}), flush=True)


def main() -> None:
    exporter = DynamiqSpanExporter()
    if sys.argv[1] == "resend":
        resend(exporter)
    else:
        produce(exporter, sys.argv[1], int(sys.argv[2]), "--full-disk" in sys.argv)


if __name__ == "__main__":
    main()
