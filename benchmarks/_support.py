"""What every benchmark shares: loopback servers with a chosen latency, workflows, statistics, tables.

Servers run in a child process, so their request handling does not compete
with the measured code for this process's GIL.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support: helpers the benchmarks share

from examples.loopback import LoopbackServer, QuietHandler

ROOT = Path(__file__).resolve().parent.parent


def _serve(port_queue: Any, latency: float) -> None:
    class Sink(QuietHandler):
        def do_POST(self) -> None:
            self.read_body()
            if latency:
                time.sleep(latency)
            self.answer(200, b"{}", {"Content-Type": "application/json"})

    with LoopbackServer(Sink, backlog=512) as server:
        port_queue.put(server.port)
        threading.Event().wait()  # until the benchmark terminates this process


@contextmanager
def sink_server(latency: float = 0.0) -> Iterator[str]:
    """A loopback HTTP server in a child process that discards bodies and answers 200 after ``latency`` s."""
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    process = context.Process(target=_serve, args=(ports, latency), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=30)}"
    finally:
        process.terminate()
        process.join(10)


def free_port() -> int:
    """A loopback port nothing listens on, until a server is started there."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def refused_url() -> str:
    """An address where nothing listens: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident memory (``VmHWM``), for attacks measured on a server in another process."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def p99(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def time_calls(call: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    text_rows = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in text_rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in text_rows]
    return "\n".join([line, rule, *body])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def parser(description: str | None) -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(description=description)
    made.add_argument("--tiny", action="store_true", help="a seconds-long run that only proves the script works")
    return made


def machine() -> str:
    import platform

    return (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}"
    )


_node_class: Any = None


def tiny_node_class() -> Any:
    """A Dynamiq node that does almost nothing: what scheduling and tracing overheads are measured on."""
    global _node_class
    if _node_class is None:
        from typing import Literal

        from dynamiq.nodes import Node, NodeGroup

        class Tiny(Node):  # type: ignore[misc]
            group: Literal[NodeGroup.UTILS] = NodeGroup.UTILS
            name: str = "tiny"
            payload: str = ""
            io_seconds: float = 0.0

            def execute(self, input_data: Any, config: Any = None, **kwargs: Any) -> dict[str, Any]:
                if self.io_seconds:
                    time.sleep(self.io_seconds)  # waiting on an LLM or an API, as most real nodes do
                return {"value": self.payload}

        _node_class = Tiny
    return _node_class


def chain_workflow(length: int, payload: str = "", io_seconds: float = 0.0) -> Any:
    """A Dynamiq workflow whose nodes run one after another."""
    from dynamiq import Workflow
    from dynamiq.flows import Flow
    from dynamiq.nodes.node import NodeDependency

    tiny = tiny_node_class()
    nodes: list[Any] = []
    for index in range(length):
        depends = [NodeDependency(node) for node in nodes[-1:]]
        nodes.append(tiny(name=f"n{index}", payload=payload, io_seconds=io_seconds, depends=depends))
    return Workflow(flow=Flow(nodes=nodes))


class DiscardingExporter:
    """A SpanExporter that keeps nothing."""

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def asyncio_workflow_runs(
    tasks: int,
    runs_each: int,
    io_seconds: float,
    nodes: int = 5,
    window: Callable[[], AbstractContextManager[Any]] = nullcontext,
    config: Callable[[], Any] | None = None,
) -> tuple[float, float]:
    """``tasks`` asyncio tasks each running its own chain workflow ``runs_each`` times (``Flow.run_async``):
    (workflow runs per second, CPU seconds of the whole process).

    ``window`` is entered around exactly the measured part (not the building of the workflows), for a caller
    that counts something else over the same span of time. ``config``, if given, makes each workflow run's
    ``RunnableConfig`` (Dynamiq's own tracing handler goes there, one per run as its users pass it).
    """
    import asyncio

    workflows = [chain_workflow(nodes, io_seconds=io_seconds) for _ in range(tasks)]

    async def work(workflow: Any) -> None:
        for _ in range(runs_each):
            await workflow.run_async(input_data={"q": 1}, config=config() if config is not None else None)

    async def all_of_them() -> float:
        began = time.perf_counter()
        await asyncio.gather(*(work(workflow) for workflow in workflows))
        return time.perf_counter() - began

    with window():
        cpu_before = time.process_time()
        wall = asyncio.run(all_of_them())
        cpu = time.process_time() - cpu_before
    return tasks * runs_each / wall, cpu


@contextmanager
def otel_tracing(endpoint: str, sampler: Any = None, exporter: Any = None, **instrument_kwargs: Any) -> Iterator[Any]:
    """otel-dynamiq as a user sets it up: instrumentor, BatchSpanProcessor, DynamiqSpanExporter.

    ``exporter`` replaces the DynamiqSpanExporter (the stock OTLP exporter, for a comparison in one run).
    """
    from opentelemetry.instrumentation.dynamiq import DynamiqInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from otel_dynamiq import DynamiqSpanExporter

    exporter = exporter if exporter is not None else DynamiqSpanExporter(endpoint=endpoint)
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    instrumentor = DynamiqInstrumentor()
    instrumentor.instrument(tracer_provider=provider, **instrument_kwargs)
    try:
        yield exporter
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
