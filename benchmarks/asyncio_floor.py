"""Asyncio throughput against the floor: the least a tracer built on the OpenTelemetry SDK can cost.

The issue's asyncio cases (a 5-node workflow run by 50 and 100 asyncio tasks
with 20 ms nodes, and by 50 with nodes that do nothing; ``Flow.run_async``,
Dynamiq's log lines off), each case alternated with the others in one
process, rounds of 1,000 workflow runs:

- untraced;
- bare spans: one span around every workflow, flow and node run (the spans
  otel-dynamiq makes), with no attribute, through the stock
  ``BatchSpanProcessor`` into an exporter that drops every batch: the least
  any SDK-based tracer pays, since it must start and end its spans and hand
  them to a processor;
- speed-ups alone: the instrumentor's two speed-ups (conditional sleeps in
  the flow loops, one-walk formatting of plain values) and no span;
- bare spans + speed-ups: the floor of a tracer that speeds Dynamiq up as
  otel-dynamiq does, the fair floor for the cases below;
- Dynamiq's runs, sent nowhere: Dynamiq's own tracing handler in each
  workflow run's config, one per run as its users pass it, with no client:
  it builds every native run and posts nothing (native tracing would also
  copy and encode each run in the process before posting it);
- bare spans + speed-ups + Dynamiq's runs: the floor of a tracer that speeds
  Dynamiq up, makes its spans and builds runs equal to the native ones with
  Dynamiq's own code (what otel-dynamiq records runs with);
- instrumentor, dropped: otel-dynamiq's instrumentor (speed-ups on), its
  spans batched and dropped as the bare ones are: recording without exporting;
- otel-dynamiq: the instrumentor and the exporter, into a loopback sink;
- OTLP: the same instrumentation into the stock OTLP/HTTP exporter.

    .venv/bin/python benchmarks/asyncio_floor.py [--rounds N] [--tiny]
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from _support import DiscardingExporter, asyncio_workflow_runs, machine, otel_tracing, parser, sink_server, table

NODES = 5
WORKFLOW_RUNS = 1000
"""Per case and round, shared among the tasks."""
NATIVE = "Dynamiq's runs, sent nowhere"
NATIVE_FLOOR = "bare spans + speed-ups + Dynamiq's runs"


@contextmanager
def bare_spans() -> Iterator[None]:
    """A span around each workflow, flow and node run, and nothing else: batched, then dropped."""
    import wrapt
    from dynamiq.flows.flow import Flow
    from dynamiq.nodes.node import Node
    from dynamiq.workflow.workflow import Workflow
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DiscardingExporter()))
    tracer = provider.get_tracer("asyncio_floor")

    def node_run(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        with tracer.start_as_current_span("node"):
            return wrapped(*args, **kwargs)

    async def awaited(wrapped: Any, args: Any, kwargs: Any) -> Any:
        with tracer.start_as_current_span("run"):
            return await wrapped(*args, **kwargs)

    def async_run(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        return awaited(wrapped, args, kwargs)

    originals = (Node.__dict__["run_sync"], Flow.__dict__["run_async"], Workflow.__dict__["run_async"])
    wrapt.wrap_function_wrapper(Node, "run_sync", node_run)
    wrapt.wrap_function_wrapper(Flow, "run_async", async_run)
    wrapt.wrap_function_wrapper(Workflow, "run_async", async_run)
    try:
        yield
    finally:
        Node.run_sync, Flow.run_async, Workflow.run_async = originals
        provider.shutdown()


@contextmanager
def speedups_alone() -> Iterator[None]:
    """The instrumentor's speed-ups, installed and taken back as the instrumentor does, without any span."""
    from opentelemetry.instrumentation.dynamiq import _speedups

    _speedups.install()
    try:
        yield
    finally:
        _speedups.uninstall()


@contextmanager
def bare_spans_and_speedups() -> Iterator[None]:
    with speedups_alone(), bare_spans():
        yield


def native_runs_config() -> Any:
    """One workflow run's config with Dynamiq's own tracing handler and no client: runs built, none sent."""
    from dynamiq.callbacks import TracingCallbackHandler
    from dynamiq.runnables import RunnableConfig

    return RunnableConfig(callbacks=[TracingCallbackHandler()])


def drive(tasks: int, io_seconds: float, workflow_runs: int, config: Callable[[], Any] | None = None) -> float:
    """Workflow runs per second of ``tasks`` tasks running their workflows ``workflow_runs`` times in all."""
    return asyncio_workflow_runs(tasks, max(1, workflow_runs // tasks), io_seconds, NODES, config=config)[0]


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--rounds", type=int, default=3, help="alternated rounds; medians are printed")
    args = arguments.parse_args()
    logging.disable(logging.INFO)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    scenarios = [(4, 0.0)] if args.tiny else [(50, 0.02), (100, 0.02), (50, 0.0)]
    rounds, workflow_runs = (1, 8) if args.tiny else (args.rounds, WORKFLOW_RUNS)
    rows = []
    with sink_server(0.0) as url:
        Case = tuple[Callable[[], AbstractContextManager[Any]], Callable[[], Any] | None]
        cases: dict[str, Case] = {
            "untraced": (nullcontext, None),
            "bare spans": (bare_spans, None),
            "speed-ups alone": (speedups_alone, None),
            "bare spans + speed-ups": (bare_spans_and_speedups, None),
            NATIVE: (nullcontext, native_runs_config),
            NATIVE_FLOOR: (bare_spans_and_speedups, native_runs_config),
            "instrumentor, dropped": (lambda: otel_tracing(url, exporter=DiscardingExporter()), None),
            "otel-dynamiq": (lambda: otel_tracing(url), None),
            "OTLP": (lambda: otel_tracing(url, exporter=OTLPSpanExporter(endpoint=f"{url}/v1/traces")), None),
        }
        drive(2, 0.0, 2)  # warm-up: Dynamiq imports its tools the first time it formats a value
        for tasks, io_seconds in scenarios:
            measured: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(rounds):
                for name, (tracing, config) in cases.items():
                    with tracing():
                        measured[name].append(drive(tasks, io_seconds, workflow_runs, config))
            untraced = statistics.median(measured["untraced"])
            row: list[Any] = [f"{io_seconds * 1000:.0f} ms", tasks, untraced]
            row += [statistics.median(measured[name]) / untraced for name in cases if name != "untraced"]
            floor = statistics.median(measured["bare spans + speed-ups"])
            row.append(statistics.median(measured["otel-dynamiq"]) / floor)
            row.append(statistics.median(measured["instrumentor, dropped"]) / statistics.median(measured[NATIVE_FLOOR]))
            row.append(" ".join(f"{value / untraced:.2f}" for value in measured["otel-dynamiq"]))
            rows.append(row)
    print(
        f"Asyncio against the OpenTelemetry floor, throughput of each case / untraced: {NODES}-node workflow,"
        f" {workflow_runs} workflow runs per case and round, medians of {rounds} alternated rounds, Dynamiq's log"
        f" lines off ({machine()})"
    )
    print(
        table(
            [
                "node I/O",
                "tasks",
                "untraced runs/s",
                "bare spans",
                "speed-ups alone",
                "bare spans + speed-ups",
                NATIVE,
                NATIVE_FLOOR,
                "instrumentor, dropped",
                "otel-dynamiq",
                "OTLP",
                "otel-dynamiq / bare spans + speed-ups",
                f"instrumentor, dropped / {NATIVE_FLOOR}",
                "otel-dynamiq, each round",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
