"""What a traced asyncio process keeps alive long enough to be promoted, by type, beside the same process untraced.

``asyncio_gc.py`` counts how many objects tracing promotes per node run; this
script says which. A 5-node workflow whose nodes wait 20 ms runs from 50
asyncio tasks (``Flow.run_async``), untraced and then traced by otel-dynamiq
(into its exporter and a loopback sink). The collector is switched off and,
every 5 ms, the event loop runs a generation-1 collection itself: what is
alive then is promoted, counted by type, and frozen out of later counts. The
forced rhythm promotes more than CPython's own (it collects by allocation
count, not time), so compare the two columns, not these totals with
``asyncio_gc.py``'s.

Types are grouped by who makes them: the OpenTelemetry API and SDK, otel-dynamiq,
and Python's own (dicts, tuples, locks, deques, context tokens, made by all of
them and by Dynamiq).

    .venv/bin/python benchmarks/asyncio_survivors.py [--tiny]
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections import Counter
from contextlib import nullcontext
from typing import Any

from _support import chain_workflow, machine, otel_tracing, parser, sink_server, table

NODES = 5
SNAPSHOT_SECONDS = 0.005
SHOWN = 24


def survivors(tasks: int, runs_each: int, io_seconds: float) -> Counter[str]:
    """Objects found alive at each forced generation-1 collection, by type, over ``tasks`` x ``runs_each`` runs."""
    workflows = [chain_workflow(NODES, io_seconds=io_seconds) for _ in range(tasks)]
    counts: Counter[str] = Counter()

    async def work(workflow: Any) -> None:
        for _ in range(runs_each):
            await workflow.run_async(input_data={"q": 1})

    async def snapshots() -> None:
        while True:
            await asyncio.sleep(SNAPSHOT_SECONDS)
            gc.collect(1)
            for alive in gc.get_objects(2):
                kind = type(alive)
                counts[f"{kind.__module__}.{kind.__qualname__}"] += 1
            gc.freeze()

    async def all_of_them() -> None:
        counting = asyncio.ensure_future(snapshots())
        await asyncio.gather(*(work(workflow) for workflow in workflows))
        counting.cancel()

    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        asyncio.run(all_of_them())
    finally:
        gc.enable()
        gc.unfreeze()
        gc.collect()
    return counts


def owner(kind: str) -> str:
    if kind.startswith(("opentelemetry.instrumentation.dynamiq", "otel_dynamiq")):
        return "otel-dynamiq"
    if kind.startswith("opentelemetry."):
        return "OpenTelemetry API and SDK"
    if kind.startswith(("builtins.", "_thread.", "_contextvars.", "collections.", "weakref.", "functools.")):
        return "Python's own (made by everyone)"
    return "Dynamiq, asyncio, the rest"


def main() -> None:
    args = parser(__doc__).parse_args()
    logging.disable(logging.INFO)
    tasks, runs_each, io_seconds = (3, 1, 0.0) if args.tiny else (50, 6, 0.02)
    node_runs = tasks * runs_each * NODES
    counted: dict[str, Counter[str]] = {}
    with sink_server(0.0) as url:
        for name, tracing in (("untraced", nullcontext), ("otel-dynamiq", lambda: otel_tracing(url))):
            with tracing():
                survivors(2, 1, 0.0)  # warm-up: Dynamiq imports its tools the first time it formats a value
                counted[name] = survivors(tasks, runs_each, io_seconds)
    untraced, traced = counted["untraced"], counted["otel-dynamiq"]
    kinds = sorted(set(untraced) | set(traced), key=lambda kind: untraced[kind] - traced[kind])
    rows = [[kind, untraced[kind] / node_runs, traced[kind] / node_runs] for kind in kinds[:SHOWN]]
    groups: Counter[str] = Counter()
    for kind in kinds:
        groups[owner(kind)] += traced[kind] - untraced[kind]
    print(
        f"Objects alive at a generation-1 collection every {SNAPSHOT_SECONDS * 1000:.0f} ms, per node run:"
        f" {tasks} tasks, {NODES}-node workflow, {io_seconds * 1000:.0f} ms nodes, {node_runs} node runs a case"
        f" ({machine()})"
    )
    print(
        f"all types: untraced {sum(untraced.values()) / node_runs:.1f},"
        f" otel-dynamiq {sum(traced.values()) / node_runs:.1f}"
    )
    print(table(["type (the most added first)", "untraced", "otel-dynamiq"], rows))
    print("Added by tracing, by who makes the type:")
    print(
        table(["made by", "added per node run"], [[group, added / node_runs] for group, added in groups.most_common()])
    )


if __name__ == "__main__":
    main()
