"""An asyncio process's CPU per node run, user and system, and whether CPython's switch interval changes the ratio.

50 asyncio tasks run a 5-node workflow whose nodes wait 20 ms
(``Flow.run_async``), untraced, traced by otel-dynamiq into a loopback sink,
and traced with the spans dropped by an exporter that does nothing, at the
default switch interval (5 ms) and at 1 and 0.2 ms. Cases alternate in one
process; medians of the rounds are printed.

What it answers: whether the process is bound by CPU (then throughput follows
CPU per node run, and only doing less helps), whether the kernel's share (thread
switches, wake-ups) grows with tracing, and whether handing the GIL over more
often (a shorter interval) lets the event loop keep up with traced worker
threads.

    .venv/bin/python benchmarks/asyncio_cpu.py [--rounds N] [--tiny]
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from _support import DiscardingExporter, asyncio_workflow_runs, machine, otel_tracing, parser, sink_server, table

NODES = 5
INTERVALS = (0.005, 0.001, 0.0002)


def measured(tasks: int, runs_each: int) -> tuple[float, float, float]:
    """(workflow runs per second, user µs per node run, system µs per node run)."""
    before = os.times()
    throughput, _ = asyncio_workflow_runs(tasks, runs_each, 0.02, NODES)
    after = os.times()
    node_runs = tasks * runs_each * NODES
    return throughput, (after.user - before.user) * 1e6 / node_runs, (after.system - before.system) * 1e6 / node_runs


def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--rounds", type=int, default=3, help="alternated rounds; medians are printed")
    args = arguments.parse_args()
    logging.disable(logging.INFO)
    tasks, runs_each, rounds, intervals = (3, 1, 1, INTERVALS[:1]) if args.tiny else (50, 12, args.rounds, INTERVALS)
    default_interval = sys.getswitchinterval()
    results: dict[tuple[float, str], list[tuple[float, float, float]]] = {}
    with sink_server(0.0) as url:
        cases: dict[str, Callable[[], AbstractContextManager[Any]]] = {
            "untraced": nullcontext,
            "otel-dynamiq": lambda: otel_tracing(url),
            "otel-dynamiq, spans dropped": lambda: otel_tracing(url, exporter=DiscardingExporter()),
        }
        asyncio_workflow_runs(2, 1, 0.0, NODES)  # warm-up: Dynamiq imports its tools the first time it formats a value
        try:
            for _ in range(rounds):
                for interval in intervals:
                    sys.setswitchinterval(interval)
                    for name, tracing in cases.items():
                        with tracing():
                            results.setdefault((interval, name), []).append(measured(tasks, runs_each))
        finally:
            sys.setswitchinterval(default_interval)
    baseline = statistics.median(run[0] for run in results[(intervals[0], "untraced")])
    rows = []
    for (interval, name), runs in results.items():
        throughput = statistics.median(run[0] for run in runs)
        user = statistics.median(run[1] for run in runs)
        system = statistics.median(run[2] for run in runs)
        rows.append([f"{interval * 1000:g} ms", name, throughput, throughput / baseline, user, system, user + system])
    print(
        f"Asyncio CPU per node run: {tasks} tasks, {NODES}-node workflow, 20 ms nodes,"
        f" {tasks * runs_each} workflow runs per case and round, medians of {rounds} alternated rounds ({machine()})"
    )
    headers = ["switch interval", "case", "runs/s", "of untraced at 5 ms", "user µs", "system µs", "CPU µs"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
