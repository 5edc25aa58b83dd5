"""Real Dynamiq workflows for the instrumentation tests, and the two ways of recording them.

Agents, LLM nodes and sub-workflows are imported where they are built: importing them costs about
15 s of CPU (pydantic builds hundreds of models), which every subprocess app that only needs a flow of
plain nodes would otherwise pay; the suite starts dozens of those.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Literal

import orjson
from dynamiq import Workflow, connections
from dynamiq.callbacks import TracingCallbackHandler
from dynamiq.clients import BaseTracingClient
from dynamiq.flows import Flow
from dynamiq.nodes import ErrorHandling, Node, NodeGroup
from dynamiq.nodes.node import NodeDependency
from dynamiq.runnables import RunnableConfig, RunnableResult
from dynamiq.types.cancellation import check_cancellation
from dynamiq.utils.utils import orjson_encode
from opentelemetry.instrumentation.dynamiq import DynamiqInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pydantic import BaseModel

from examples.local_llm import FAILING_MODEL, LocalLLM
from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq.collector import LocalCollector
from tests.support.common import wait_for

FAKE_LLM_KEY = "sk-otel-dynamiq-fake-4d2c9e71"
"""A recognisable connection key: it must never appear in a span or a run."""


class Step(Node):
    """A node that does a little work: what most nodes of a flow look like from outside."""

    group: Literal[NodeGroup.UTILS] = NodeGroup.UTILS
    name: str = "step"
    delay: float = 0.0

    def execute(self, input_data: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict[str, Any]:
        if self.delay:
            time.sleep(self.delay)
        return {"value": f"{self.name} done", "seen": sorted(str(key) for key in dict(input_data))}


class Failing(Node):
    group: Literal[NodeGroup.UTILS] = NodeGroup.UTILS
    name: str = "failing"

    def execute(self, input_data: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict[str, Any]:
        raise ValueError(f"{self.name} cannot do this")


class CancelsItsRun(Node):
    """Cancels the run it belongs to, the way an API handler would from another thread."""

    group: Literal[NodeGroup.UTILS] = NodeGroup.UTILS
    name: str = "cancels"

    def execute(self, input_data: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict[str, Any]:
        assert config is not None
        config.cancellation.token.cancel()
        check_cancellation(config)
        return {}


def step(name: str, *after: Node, delay: float = 0.0) -> Step:
    return Step(name=name, delay=delay, depends=[NodeDependency(node) for node in after])


def sequential_flow() -> Workflow:
    a = step("A")
    b = step("B", a)
    c = step("C", b)
    return Workflow(flow=Flow(nodes=[a, b, c]))


def parallel_branches() -> Workflow:
    start = step("start")
    left = step("left", start, delay=0.02)
    right = step("right", start, delay=0.02)
    join = step("join", left, right)
    return Workflow(flow=Flow(nodes=[start, left, right, join]))


def failure_after_retries_and_skip(retries: int = 2) -> Workflow:
    failing = Failing(
        name="flaky", error_handling=ErrorHandling(max_retries=retries, retry_interval_seconds=0.01, backoff_rate=1)
    )
    skipped = step("after flaky", failing)
    independent = step("independent")
    return Workflow(flow=Flow(nodes=[failing, skipped, independent]))


def agent_with_tool(llm_url: str, model: str = "gpt-4o-mini") -> Workflow:
    from dynamiq.nodes.agents import Agent
    from dynamiq.nodes.llms import OpenAI
    from dynamiq.nodes.tools.python import Python

    connection = connections.OpenAI(api_key=FAKE_LLM_KEY, url=llm_url)
    llm = OpenAI(connection=connection, model=model, name="LLM")
    calculator = Python(
        name="calculator", description="Adds two numbers a and b.", code="def run(input_data):\n    return 2 + 2\n"
    )
    agent = Agent(name="Helper", llm=llm, tools=[calculator], role="a helpful assistant", max_loops=3)
    return Workflow(flow=Flow(nodes=[agent]))


def nested_workflow() -> Workflow:
    from dynamiq.nodes.operators import SubWorkflow

    inner_a = step("inner A")
    inner_b = step("inner B", inner_a)
    sub = SubWorkflow(name="sub workflow", flow=Flow(nodes=[inner_a, inner_b]))
    before = step("before")
    after = step("after", sub)
    sub.depends = [NodeDependency(before)]
    return Workflow(flow=Flow(nodes=[before, sub, after]))


class LookupInput(BaseModel):
    """A tool's input schema: a pydantic model class in the node's serialized form."""

    a: int
    b: int


class Lookup(Node):
    """A tool with a pydantic input schema, as agents' tools usually have."""

    group: Literal[NodeGroup.TOOLS] = NodeGroup.TOOLS
    name: str = "lookup"
    description: str = "Looks up the sum of a and b."

    def execute(self, input_data: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict[str, Any]:
        return {"content": str(int(input_data.a) + int(input_data.b))}


def agent_with_schema_tool(llm_url: str) -> Workflow:
    from dynamiq.nodes.agents import Agent
    from dynamiq.nodes.llms import OpenAI

    connection = connections.OpenAI(api_key=FAKE_LLM_KEY, url=llm_url)
    llm = OpenAI(connection=connection, model="gpt-4o-mini", name="LLM")
    agent = Agent(name="Looker", llm=llm, tools=[Lookup(input_schema=LookupInput)], role="looks things up", max_loops=3)
    return Workflow(flow=Flow(nodes=[agent]))


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Label(str):
    """A str subclass: formatted and encoded as text, like its base."""


class Count(int):
    pass


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Opaque:
    """An object with no JSON form and a plain repr."""

    def __repr__(self) -> str:
        return "Opaque()"


def helper_function() -> None:
    """A callable among the values."""


def every_kind_of_value() -> dict[str, Any]:
    """What nodes pass around in real flows, one of each kind Dynamiq's formatting and encoding treat differently."""
    return {
        "text": "plain",
        "long_text": "x" * 20_000,
        "unicode": "naïve café ✓",
        "integer": 7,
        "big_integer": 2**62,
        "real": 1.5,
        "flag": True,
        "nothing": None,
        "enum": Colour.RED,
        "int_enum": Level.HIGH,
        "str_subclass": Label("label"),
        "int_subclass": Count(3),
        "bytes": b"raw bytes",
        "binary": bytes(range(250, 256)),
        "file": io.BytesIO(b"file content"),
        "datetime": datetime(2026, 11, 28, 12, 30, tzinfo=timezone.utc),
        "naive_datetime": datetime(2026, 11, 28, 12, 30),
        "date": date(2026, 11, 28),
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "decimal": Decimal("12.50"),
        "set": {"only"},
        "frozenset": frozenset({1}),
        "tuple": (1, "two"),
        "long_list": list(range(150)),
        "nested": {"list": [{"deep": [1, {"deeper": (2, 3)}]}], 5: "non-str key"},
        "ordered": OrderedDict(a=1),
        "exception": ValueError("bad value"),
        "pydantic": LookupInput(a=1, b=2),
        "model_class": LookupInput,
        "callable": helper_function,
        "lambda": lambda: None,
        "dataclass": Point(1, 2),
        "object": Opaque(),
    }


class Emits(Node):
    """Returns every kind of value, so the next node's input holds them too."""

    group: Literal[NodeGroup.UTILS] = NodeGroup.UTILS
    name: str = "emits"

    def execute(self, input_data: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict[str, Any]:
        return every_kind_of_value()


def flow_of_every_kind_of_value() -> Workflow:
    emits = Emits()
    takes = step("takes", emits)
    return Workflow(flow=Flow(nodes=[emits, takes]))


def run_with_every_kind_of_value(workflow: Workflow, config: RunnableConfig | None) -> RunnableResult:
    return workflow.run_sync(input_data=every_kind_of_value(), config=config)


def canceled_run() -> Workflow:
    first = step("first")
    cancels = CancelsItsRun(name="cancels", depends=[NodeDependency(first)])
    never = step("never runs", cancels)
    return Workflow(flow=Flow(nodes=[first, cancels, never]))


class KeepRuns(BaseTracingClient):  # type: ignore[misc]
    """A tracing client that keeps what the native handler would have posted."""

    def __init__(self) -> None:
        self.runs: dict[str, Any] = {}

    def trace(self, runs: list[Any]) -> None:
        for run in runs:
            encoded = orjson.loads(orjson.dumps(run.to_dict(), default=orjson_encode, option=orjson.OPT_NON_STR_KEYS))
            self.runs[encoded["id"]] = encoded


Runner = Callable[[Workflow, RunnableConfig | None], RunnableResult]


@dataclass
class Case:
    name: str
    build: Callable[[str], Workflow]  # takes the local LLM's URL
    run: Runner


def run_sync(workflow: Workflow, config: RunnableConfig | None) -> RunnableResult:
    return workflow.run_sync(input_data={"input": "What is 2 + 2?"}, config=config)


def run_async(workflow: Workflow, config: RunnableConfig | None) -> RunnableResult:
    import asyncio

    return asyncio.run(workflow.run_async(input_data={"input": "What is 2 + 2?"}, config=config))


def native_runs(case: Case, workflow: Workflow) -> list[dict[str, Any]]:
    client = KeepRuns()
    case.run(workflow, RunnableConfig(callbacks=[TracingCallbackHandler(client=client)]))
    return list(client.runs.values())


@dataclass
class Instrumented:
    collector: LocalCollector
    provider: TracerProvider
    exporter: DynamiqSpanExporter
    instrumentor: DynamiqInstrumentor

    def flush(self, expected_runs: int | None = None) -> list[dict[str, Any]]:
        self.provider.force_flush()
        if expected_runs is not None:
            wait_for(lambda: len(self.collector.store.runs()) >= expected_runs)
        return self.collector.store.runs()


@contextmanager
def instrumentation(**instrument_kwargs: Any) -> Iterator[DynamiqInstrumentor]:
    """Dynamiq instrumented for the block only, however the block ends."""
    instrumentor = DynamiqInstrumentor()
    instrumentor.instrument(**instrument_kwargs)
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


@contextmanager
def instrumented(**instrument_kwargs: Any) -> Iterator[Instrumented]:
    """Instrumentation exporting to a fresh local collector, as a user sets it up."""
    with LocalCollector() as collector:
        exporter = DynamiqSpanExporter(endpoint=collector.url)
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
        try:
            with instrumentation(tracer_provider=provider, **instrument_kwargs) as instrumentor:
                yield Instrumented(collector, provider, exporter, instrumentor)
        finally:
            provider.shutdown()


__all__ = ["FAILING_MODEL", "LocalLLM"]
