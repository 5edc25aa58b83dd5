"""A script that makes a small trace and exits at once, as cron jobs, CLI tools and test runs do.

    short_lived.py api          only the OpenTelemetry API: run it under ``opentelemetry-instrument``
    short_lived.py manual       its own TracerProvider and BatchSpanProcessor, as the README's manual setup
    short_lived.py initialize   ``auto_instrumentation.initialize()``, as examples/auto_discovery.py

It prints the trace id and ends right after its last span, without calling
``shutdown()``: delivery is left to the provider's own ``atexit`` hook, as in
most real programs. It imports nothing from the checkout, so it runs the same
against an installed wheel.
"""

from __future__ import annotations

import sys

from opentelemetry import trace


def set_up(mode: str) -> None:
    if mode == "manual":
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from otel_dynamiq import DynamiqSpanExporter

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(DynamiqSpanExporter()))
        trace.set_tracer_provider(provider)
    elif mode == "initialize":
        from opentelemetry.instrumentation.auto_instrumentation import initialize

        initialize()
    elif mode != "api":
        sys.exit(f"unknown mode {mode!r}")


def main() -> None:
    set_up(sys.argv[1])
    tracer = trace.get_tracer("short-lived")
    with tracer.start_as_current_span("short job") as root:
        with tracer.start_as_current_span("step", attributes={"input.value": "one step"}):
            pass
    print(format(root.get_span_context().trace_id, "032x"), flush=True)


if __name__ == "__main__":
    main()
