"""Polling: Flow.run_sync's scheduling loop, stock against instrumented.

A chain of 5, 10 and 20 nodes that do almost nothing, run with ``run_sync``:
stock Dynamiq (sleeps 1 ms after every step); instrumented with tracing off
(spans unsampled, which isolates the conditional sleep); instrumented with
tracing on (BatchSpanProcessor + DynamiqSpanExporter to a loopback sink).

    .venv/bin/python benchmarks/polling.py [--repeat N] [--tiny]

Target: instrumented (tracing off) / stock <= 0.5 per node for the 5-node chain.
"""

from __future__ import annotations

from typing import Any

from _support import chain_workflow, machine, median, otel_tracing, p99, parser, sink_server, table, time_calls


def per_node_ms(workflow: Any, length: int, repeat: int) -> list[float]:
    call = lambda: workflow.run_sync(input_data={"q": 1})  # noqa: E731
    time_calls(call, 3)
    return [sample * 1000 / length for sample in time_calls(call, repeat)]


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--repeat", type=int, default=100)
    args = arguments.parse_args()
    from opentelemetry.instrumentation.dynamiq import DynamiqInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    lengths = [5] if args.tiny else [5, 10, 20]
    repeat = 3 if args.tiny else args.repeat
    rows = []
    with sink_server() as url:
        for length in lengths:
            workflow = chain_workflow(length)
            stock = per_node_ms(workflow, length, repeat)
            instrumentor = DynamiqInstrumentor()
            instrumentor.instrument(tracer_provider=TracerProvider(sampler=ALWAYS_OFF))
            try:
                quiet = per_node_ms(workflow, length, repeat)
            finally:
                instrumentor.uninstrument()
            with otel_tracing(url):
                traced = per_node_ms(workflow, length, repeat)
            rows.append(
                [
                    f"{length} nodes",
                    median(stock),
                    p99(stock),
                    median(quiet),
                    p99(quiet),
                    median(traced),
                    p99(traced),
                    median(quiet) / median(stock),
                    median(traced) / median(stock),
                ]
            )
    print(f"Flow.run_sync, ms per node ({repeat} runs each; {machine()})")
    headers = [
        "chain",
        "stock p50",
        "stock p99",
        "tracing off p50",
        "tracing off p99",
        "tracing on p50",
        "tracing on p99",
        "off/stock",
        "on/stock",
    ]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
