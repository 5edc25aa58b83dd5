"""Tracing floor: how much of a traced flow's time is Dynamiq's own tracing-handler work.

A chain of 5 and 20 nodes that do almost nothing, ``run_sync``, five ways:
stock; stock with Dynamiq's ``TracingCallbackHandler`` kept in process (no
client, so no network); instrumented with tracing off (the conditional sleep
alone); instrumented with tracing off plus that same handler (the floor for
any tracer whose runs carry what native runs carry, since Dynamiq builds them
with that handler's work); and otel-dynamiq tracing (BatchSpanProcessor and
DynamiqSpanExporter posting to a loopback sink).

    .venv/bin/python benchmarks/tracing_floor.py [--repeat N] [--tiny]

It explains the caller-latency figure for 20 nodes at 200 ms: native tracing
costs the stock flow with the handler plus the post; otel-dynamiq cannot go
below the floor.
"""

from __future__ import annotations

from typing import Any

from _support import chain_workflow, machine, median, otel_tracing, p99, parser, sink_server, table, time_calls


def milliseconds(call: Any, repeat: int) -> list[float]:
    time_calls(call, 3)
    return [sample * 1000 for sample in time_calls(call, repeat)]


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--repeat", type=int, default=100)
    args = arguments.parse_args()
    from dynamiq.callbacks import TracingCallbackHandler
    from dynamiq.runnables import RunnableConfig
    from opentelemetry.instrumentation.dynamiq import DynamiqInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    repeat = 3 if args.tiny else args.repeat
    rows = []
    with sink_server() as url:
        for length in [5] if args.tiny else [5, 20]:
            workflow = chain_workflow(length)

            def plain() -> Any:
                return workflow.run_sync(input_data={"q": 1})  # noqa: B023 - called inside this iteration only

            def with_handler() -> Any:
                config = RunnableConfig(callbacks=[TracingCallbackHandler()])
                return workflow.run_sync(input_data={"q": 1}, config=config)  # noqa: B023

            measured = {"stock": milliseconds(plain, repeat), "stock + handler": milliseconds(with_handler, repeat)}
            instrumentor = DynamiqInstrumentor()
            instrumentor.instrument(tracer_provider=TracerProvider(sampler=ALWAYS_OFF))
            try:
                measured["instrumented, tracing off"] = milliseconds(plain, repeat)
                measured["instrumented + handler (the floor)"] = milliseconds(with_handler, repeat)
            finally:
                instrumentor.uninstrument()
            with otel_tracing(url):
                measured["otel-dynamiq tracing"] = milliseconds(plain, repeat)
            floor = median(measured["instrumented + handler (the floor)"])
            for how, samples in measured.items():
                rows.append([f"{length} nodes", how, median(samples), p99(samples), median(samples) / floor])
    print(f"Flow.run_sync, ms per workflow run ({repeat} runs each; {machine()})")
    print(table(["chain", "how", "p50", "p99", "of the floor"], rows))


if __name__ == "__main__":
    main()
