"""Concurrency: throughput of many workflow runs at once, untraced, traced by otel-dynamiq, and native.

20, 50 and 100 concurrent runs of a 5-node workflow (threads for
``run_sync``, asyncio tasks for ``run_async``), each worker running its
workflow several times; throughput is runs per second of wall time. Nodes
either do nothing (the process is CPU-bound: the worst case for any tracer)
or wait 20 ms on I/O like an LLM or API call (what real workflows do). Native
tracing posts to a loopback collector answering in 200 ms; otel-dynamiq
exports to the same collector (its exporter thread's CPU is counted too), and
so does the stock OTLP/HTTP exporter behind the same instrumentation, the
comparison a user makes: what our exporter costs beside the one they know.

Beside throughput, the CPU time of the whole process (every thread) per node
run, so what tracing costs shows even where the machine is not saturated.

    .venv/bin/python benchmarks/concurrency.py [--runs-per-worker N] [--quiet] [--tiny]

Dynamiq's import sets the root logger to INFO, and every node run logs four lines: by default they are part
of every case's cost, untraced included. ``--quiet`` turns them off, as an application that logs at WARNING
does; tracing's share of the run is then larger.

Targets: otel-dynamiq / untraced throughput >= 0.9 with 20 ms nodes and >= 0.75
with 0 ms nodes, at 50 and 100 concurrent runs.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from _support import chain_workflow, machine, otel_tracing, parser, sink_server, table

NODES = 5


class Measured:
    """Throughput in workflow runs per second, and process CPU per node run in microseconds."""

    def __init__(self, runs: int, wall: float, cpu: float) -> None:
        self.throughput = runs / wall
        self.cpu_per_node_us = cpu / (runs * NODES) * 1e6

    @classmethod
    def median_of(cls, rounds: list[Measured]) -> Measured:
        middle = cls.__new__(cls)
        middle.throughput = statistics.median(measured.throughput for measured in rounds)
        middle.cpu_per_node_us = statistics.median(measured.cpu_per_node_us for measured in rounds)
        return middle


def measured(drive: Callable[..., float], *arguments: Any) -> Measured:
    cpu_before = time.process_time()
    runs, wall = drive(*arguments)
    return Measured(runs, wall, time.process_time() - cpu_before)


def threaded(workers: int, runs: int, config_factory: Callable[[], Any], io_seconds: float) -> tuple[int, float]:
    workflows = [chain_workflow(NODES, io_seconds=io_seconds) for _ in range(workers)]
    start = threading.Barrier(workers + 1)

    def work(workflow: Any) -> None:
        start.wait()
        for _ in range(runs):
            workflow.run_sync(input_data={"q": 1}, config=config_factory())

    threads = [threading.Thread(target=work, args=(workflow,)) for workflow in workflows]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return workers * runs, time.perf_counter() - began


def tasks(workers: int, runs: int, config_factory: Callable[[], Any], io_seconds: float) -> tuple[int, float]:
    workflows = [chain_workflow(NODES, io_seconds=io_seconds) for _ in range(workers)]

    async def work(workflow: Any) -> None:
        for _ in range(runs):
            await workflow.run_async(input_data={"q": 1}, config=config_factory())

    async def all_of_them() -> float:
        began = time.perf_counter()
        await asyncio.gather(*(work(workflow) for workflow in workflows))
        return time.perf_counter() - began

    return workers * runs, asyncio.run(all_of_them())


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--runs-per-worker", type=int, default=5)
    arguments.add_argument("--rounds", type=int, default=3, help="alternated rounds; medians are printed")
    arguments.add_argument(
        "--quiet",
        action="store_true",
        help="Dynamiq's INFO log lines off, as an application logging at WARNING has them (Dynamiq's import sets up"
        " INFO on the root logger: four lines a node, a large part of an untraced run's own cost)",
    )
    args = arguments.parse_args()
    if args.quiet:
        logging.disable(logging.INFO)
    rounds = 1 if args.tiny else args.rounds
    from dynamiq.callbacks import TracingCallbackHandler
    from dynamiq.clients import DynamiqTracingClient
    from dynamiq.runnables import RunnableConfig
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    concurrency = [4] if args.tiny else [1, 20, 50, 100]
    node_io = [0.0] if args.tiny else [0.0, 0.02]
    runs = 1 if args.tiny else args.runs_per_worker
    rows = []
    with sink_server(0.2) as url:

        def native() -> Any:
            client = DynamiqTracingClient(base_url=url, access_key="benchmark")
            return RunnableConfig(callbacks=[TracingCallbackHandler(client=client)])

        for io_seconds in node_io:
            for workers in concurrency:
                for mode, drive in (("threads, run_sync", threaded), ("tasks, run_async", tasks)):
                    drive(2, 1, lambda: None, io_seconds)  # warm-up
                    worker_runs = runs * max(1, 20 // workers)  # one worker alone runs as many as 20 would
                    native_run = measured(drive, workers, worker_runs, native, io_seconds)
                    cases: dict[str, list[Measured]] = {"untraced": [], "unsampled": [], "traced": [], "stock": []}
                    for _ in range(rounds):  # alternated, so a slow spell of the machine hits every case
                        cases["untraced"].append(measured(drive, workers, worker_runs, lambda: None, io_seconds))
                        with otel_tracing(url, sampler=ALWAYS_OFF):
                            cases["unsampled"].append(measured(drive, workers, worker_runs, lambda: None, io_seconds))
                        with otel_tracing(url):
                            cases["traced"].append(measured(drive, workers, worker_runs, lambda: None, io_seconds))
                        with otel_tracing(url, exporter=OTLPSpanExporter(endpoint=f"{url}/v1/traces")):
                            cases["stock"].append(measured(drive, workers, worker_runs, lambda: None, io_seconds))
                    untraced, unsampled, traced, stock = (Measured.median_of(cases[name]) for name in cases)
                    rows.append(
                        [
                            f"{io_seconds * 1000:.0f} ms",
                            workers,
                            mode,
                            untraced.throughput,
                            traced.throughput,
                            native_run.throughput,
                            traced.throughput / untraced.throughput,
                            stock.throughput / untraced.throughput,
                            traced.throughput / stock.throughput,
                            native_run.throughput / untraced.throughput,
                            unsampled.throughput / untraced.throughput,
                            untraced.cpu_per_node_us,
                            traced.cpu_per_node_us - untraced.cpu_per_node_us,
                            traced.cpu_per_node_us - unsampled.cpu_per_node_us,
                            native_run.cpu_per_node_us - untraced.cpu_per_node_us,
                        ]
                    )
    print(f"Workflow runs per second, {NODES}-node workflow, collector answering in 200 ms ({runs} runs per worker)")
    print(f"Medians of {rounds} alternated rounds (native: one round, it is far off and slow).")
    print("Dynamiq's INFO log lines: " + ("off (--quiet)." if args.quiet else "on, as Dynamiq's import sets them up."))
    print("CPU: process time (all threads) per node run, in µs; 'added' is traced minus untraced.")
    print("'unsampled' is otel-dynamiq instrumented with every span sampled out: Dynamiq's faster formatting alone;")
    print("'CPU of spans' is traced minus unsampled: what recording and exporting the runs costs.")
    print("'OTLP' is the same instrumentation exporting through the stock OTLP/HTTP exporter instead.")
    print(f"({machine()})")
    headers = [
        "node I/O",
        "concurrent",
        "how",
        "untraced",
        "otel-dynamiq",
        "native",
        "otel/untraced",
        "OTLP/untraced",
        "otel/OTLP",
        "native/untraced",
        "unsampled/untraced",
        "CPU untraced",
        "CPU added otel",
        "CPU of spans",
        "CPU added native",
    ]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
