"""Instrumentation cost: microseconds a node run gains from its span and attributes.

One node with a 1 KB input and output, run with ``run_sync`` in a loop:
untraced; wrapped in one bare OpenTelemetry span (the floor for any tracer
built on the SDK); Dynamiq's own tracing handler kept in process (no client,
so no network: the part of the cost that native tracing pays too);
instrumented with content capture on; and with it off. Spans go to a BatchSpanProcessor
whose exporter discards them, so only making the spans is measured.

    .venv/bin/python benchmarks/instrumentation_cost.py [--runs N] [--tiny]
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from _support import DiscardingExporter, machine, parser, table, tiny_node_class

PAYLOAD = "x" * 1024


def microseconds_per_run(call: Callable[[], Any], runs: int) -> float:
    for _ in range(min(runs, 200)):
        call()
    samples = []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(runs):
            call()
        samples.append((time.perf_counter() - began) / runs * 1e6)
    return statistics.median(samples)


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--runs", type=int, default=2_000)
    args = arguments.parse_args()
    from dynamiq.callbacks import TracingCallbackHandler
    from dynamiq.runnables import RunnableConfig
    from opentelemetry.instrumentation.dynamiq import DynamiqInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    runs = 50 if args.tiny else args.runs
    node = tiny_node_class()(name="node", payload=PAYLOAD)

    def run(config: Any = None) -> Any:
        return node.run_sync(input_data={"query": PAYLOAD}, config=config)

    untraced = microseconds_per_run(run, runs)
    bare_provider = TracerProvider()
    bare_provider.add_span_processor(BatchSpanProcessor(DiscardingExporter()))  # type: ignore[arg-type]
    bare_tracer = bare_provider.get_tracer("benchmark")

    def run_in_bare_span() -> Any:
        with bare_tracer.start_as_current_span("node"):
            return run()

    bare = microseconds_per_run(run_in_bare_span, runs)
    bare_provider.shutdown()
    native = microseconds_per_run(lambda: run(RunnableConfig(callbacks=[TracingCallbackHandler()])), runs)
    measured = {}
    for capture in (True, False):
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(DiscardingExporter()))  # type: ignore[arg-type]
        instrumentor = DynamiqInstrumentor()
        instrumentor.instrument(tracer_provider=provider, capture_content=capture)
        try:
            measured[capture] = microseconds_per_run(run, runs)
        finally:
            instrumentor.uninstrument()
            provider.shutdown()
    rows = [
        ["untraced", untraced, 0.0],
        ["one bare OpenTelemetry span around it", bare, bare - untraced],
        ["Dynamiq's tracing handler, in process", native, native - untraced],
        ["otel-dynamiq, content captured", measured[True], measured[True] - untraced],
        ["otel-dynamiq, content off", measured[False], measured[False] - untraced],
    ]
    print(f"One node run (1 KB in and out), µs per run, median of 5 x {runs} runs ({machine()})")
    print(table(["", "µs per run", "µs added"], rows))


if __name__ == "__main__":
    main()
