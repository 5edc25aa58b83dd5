"""Concurrency: throughput of many workflow runs at once, untraced, traced by otel-dynamiq, and native.

20, 50 and 100 concurrent runs of a 5-node workflow (threads for
``run_sync``, asyncio tasks for ``run_async``), each worker running its
workflow several times; throughput is runs per second of wall time. Nodes
either do nothing (the process is CPU-bound: the worst case for any tracer)
or wait 20 ms on I/O like an LLM or API call (what real workflows do). Native
tracing posts to a loopback collector answering in 200 ms; otel-dynamiq
exports to the same collector.

    .venv/bin/python benchmarks/concurrency.py [--runs-per-worker N] [--tiny]

Target: otel-dynamiq / untraced throughput >= 0.9.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from _support import chain_workflow, machine, otel_tracing, parser, sink_server, table


def threaded(workers: int, runs: int, config_factory: Callable[[], Any], io_seconds: float) -> float:
    workflows = [chain_workflow(5, io_seconds=io_seconds) for _ in range(workers)]
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
    return workers * runs / (time.perf_counter() - began)


def tasks(workers: int, runs: int, config_factory: Callable[[], Any], io_seconds: float) -> float:
    workflows = [chain_workflow(5, io_seconds=io_seconds) for _ in range(workers)]

    async def work(workflow: Any) -> None:
        for _ in range(runs):
            await workflow.run_async(input_data={"q": 1}, config=config_factory())

    async def all_of_them() -> float:
        began = time.perf_counter()
        await asyncio.gather(*(work(workflow) for workflow in workflows))
        return workers * runs / (time.perf_counter() - began)

    return asyncio.run(all_of_them())


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--runs-per-worker", type=int, default=5)
    args = arguments.parse_args()
    from dynamiq.callbacks import TracingCallbackHandler
    from dynamiq.clients import DynamiqTracingClient
    from dynamiq.runnables import RunnableConfig

    concurrency = [4] if args.tiny else [20, 50, 100]
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
                    untraced = drive(workers, runs, lambda: None, io_seconds)
                    native_throughput = drive(workers, runs, native, io_seconds)
                    with otel_tracing(url):
                        traced = drive(workers, runs, lambda: None, io_seconds)
                    rows.append(
                        [
                            f"{io_seconds * 1000:.0f} ms",
                            workers,
                            mode,
                            untraced,
                            traced,
                            native_throughput,
                            traced / untraced,
                            native_throughput / untraced,
                        ]
                    )
    print(f"Workflow runs per second, 5-node workflow, collector answering in 200 ms ({runs} runs per worker)")
    print(f"({machine()})")
    headers = [
        "node I/O",
        "concurrent",
        "how",
        "untraced",
        "otel-dynamiq",
        "native",
        "otel/untraced",
        "native/untraced",
    ]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
