"""The instrumentor as a user meets it: spans, nesting, safety, capture settings, and undoing it all."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import dynamiq.executors.pool
import dynamiq.flows.base
import dynamiq.flows.flow
import dynamiq.nodes.node
import dynamiq.workflow.workflow
import httpx
import pytest
from dynamiq.flows import Flow
from dynamiq.runnables import RunnableStatus
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.dynamiq import DynamiqInstrumentor, _wrappers
from opentelemetry.instrumentation.dynamiq._recorder import RunRecorder
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._importlib_metadata import entry_points
from pydantic import Field

from tests.support import dynamiq_apps as ds


class SpanSink:
    """A TracerProvider whose spans stay in memory: for assertions on the spans themselves."""

    def __init__(self) -> None:
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))

    def spans(self) -> list[ReadableSpan]:
        return list(self.memory.get_finished_spans())

    def named(self, run_name: str) -> list[ReadableSpan]:
        return [span for span in self.spans() if (span.attributes or {}).get("dynamiq.run.name") == run_name]


@pytest.fixture
def sink() -> Iterator[SpanSink]:
    made = SpanSink()
    yield made
    made.provider.shutdown()


@pytest.fixture
def instrumentor(sink: SpanSink) -> Iterator[DynamiqInstrumentor]:
    with ds.instrumentation(tracer_provider=sink.provider) as made:
        yield made


@pytest.fixture(scope="module")
def llm() -> Iterator[ds.LocalLLM]:
    with ds.LocalLLM() as server:
        yield server


PATCHED = [
    (dynamiq.workflow.workflow.Workflow, "run_sync"),
    (dynamiq.workflow.workflow.Workflow, "run_async"),
    (dynamiq.flows.flow.Flow, "run_sync"),
    (dynamiq.flows.flow.Flow, "run_async"),
    (dynamiq.nodes.node.Node, "run_sync"),
    (dynamiq.nodes.node.Node, "_run_async_native"),
    (dynamiq.executors.pool.PoolExecutor, "execute"),
    *(
        (dynamiq.workflow.workflow.Workflow, f"run_on_workflow_{step}")
        for step in ("start", "end", "error", "canceled")
    ),
    *((dynamiq.flows.base.BaseFlow, f"run_on_flow_{step}") for step in ("start", "end", "error", "canceled")),
    *(
        (dynamiq.nodes.node.Node, f"run_on_node_{step}")
        for step in (
            "start",
            "end",
            "error",
            "skip",
            "canceled",
            "execute_start",
            "execute_end",
            "execute_error",
            "execute_run",
        )
    ),
]


def test_uninstrument_restores_every_patched_attribute(sink: SpanSink) -> None:
    originals = {(owner, name): owner.__dict__[name] for owner, name in PATCHED}
    original_modules = (dynamiq.flows.flow.time, dynamiq.flows.flow.asyncio)
    instrumentor = DynamiqInstrumentor()
    instrumentor.instrument(tracer_provider=sink.provider)
    assert all(owner.__dict__[name] is not originals[(owner, name)] for owner, name in PATCHED)
    assert dynamiq.flows.flow.time is not original_modules[0]
    assert dynamiq.flows.flow.asyncio is not original_modules[1]
    instrumentor.uninstrument()
    for owner, name in PATCHED:
        assert owner.__dict__[name] is originals[(owner, name)], f"{owner.__name__}.{name}"
    assert (dynamiq.flows.flow.time, dynamiq.flows.flow.asyncio) == original_modules
    assert dynamiq.flows.flow.time is original_modules[0] and dynamiq.flows.flow.asyncio is original_modules[1]
    ds.sequential_flow().run_sync(input_data={})
    assert sink.spans() == []


def test_one_span_per_run_with_the_native_names(instrumentor: DynamiqInstrumentor, sink: SpanSink) -> None:
    ds.sequential_flow().run_sync(input_data={"input": "x"})
    names = sorted((span.attributes or {})["dynamiq.run.name"] for span in sink.spans())
    assert names == ["A", "B", "C", "Flow", "Workflow"]
    workflow = sink.named("Workflow")[0]
    flow = sink.named("Flow")[0]
    assert workflow.parent is None
    assert flow.parent is not None and flow.parent.span_id == workflow.context.span_id
    for node in ("A", "B", "C"):
        (span,) = sink.named(node)
        assert span.parent is not None and span.parent.span_id == flow.context.span_id
        assert span.attributes is not None and span.attributes["dynamiq.run.status"] == "succeeded"


def test_instrumenting_twice_makes_no_duplicate_spans(instrumentor: DynamiqInstrumentor, sink: SpanSink) -> None:
    DynamiqInstrumentor().instrument(tracer_provider=sink.provider)  # a second call is a no-op
    ds.sequential_flow().run_sync(input_data={})
    assert len(sink.spans()) == 5


class RecordsConfigs(ds.Step):
    """A node that keeps the config object Dynamiq hands it, and the run ids it was given."""

    seen: list[Any] = Field(default_factory=list)

    def execute(self, input_data: Any, config: Any = None, **kwargs: Any) -> dict[str, Any]:
        self.seen.append((config, kwargs.get("wf_run_id")))
        return super().execute(input_data, config, **kwargs)


def test_the_callers_config_reaches_the_nodes_untouched(instrumentor: DynamiqInstrumentor, sink: SpanSink) -> None:
    from dynamiq.callbacks import BaseCallbackHandler
    from dynamiq.runnables import RunnableConfig

    class Mine(BaseCallbackHandler):  # type: ignore[misc]
        pass

    node = RecordsConfigs(name="records", seen=[])
    config = RunnableConfig(callbacks=[Mine()])
    callbacks = config.callbacks
    ds.Workflow(flow=Flow(nodes=[node])).run_sync(input_data={}, config=config)

    ((seen_config, wf_run_id),) = node.seen
    assert seen_config is config  # the caller's object, not a copy with our handler in it
    assert config.callbacks is callbacks and [type(cb) for cb in callbacks] == [Mine]
    assert wf_run_id == config.run_id
    assert len(sink.spans()) == 3


def test_a_run_without_config_is_given_none_of_ours(instrumentor: DynamiqInstrumentor, sink: SpanSink) -> None:
    """Dynamiq falls back to the flow's own run id when the caller gave no config; a config of ours would hide that."""
    node = RecordsConfigs(name="records", seen=[])
    Flow(nodes=[node]).run_sync(input_data={})
    ((seen_config, wf_run_id),) = node.seen
    assert seen_config.callbacks == []
    assert wf_run_id is None  # no caller config, so no caller run id
    assert len(sink.spans()) == 2


def test_a_patch_of_the_native_handler_reaches_only_the_applications_handlers(
    instrumentor: DynamiqInstrumentor, sink: SpanSink
) -> None:
    from unittest import mock

    from dynamiq.callbacks import TracingCallbackHandler
    from dynamiq.runnables import RunnableConfig

    original = TracingCallbackHandler.on_flow_start
    with mock.patch.object(
        TracingCallbackHandler, "on_flow_start", autospec=True, side_effect=original
    ) as on_flow_start:
        ds.sequential_flow().run_sync(input_data={})
        assert on_flow_start.call_count == 0
        ds.sequential_flow().run_sync(input_data={}, config=RunnableConfig(callbacks=[TracingCallbackHandler()]))
        on_flow_start.assert_called_once()
    assert len(sink.named("Flow")) == 2  # both runs traced all the same
    assert all(span.attributes["dynamiq.run.status"] == "succeeded" for span in sink.named("Flow"))


def test_the_applications_own_tracing_handler_gets_exactly_its_native_runs(
    instrumentor: DynamiqInstrumentor, sink: SpanSink
) -> None:
    from dynamiq.callbacks import TracingCallbackHandler
    from dynamiq.runnables import RunnableConfig

    client = ds.KeepRuns()
    ds.sequential_flow().run_sync(
        input_data={}, config=RunnableConfig(callbacks=[TracingCallbackHandler(client=client)])
    )
    assert sorted(run["name"] for run in client.runs.values()) == ["A", "B", "C", "Flow", "Workflow"]
    assert len(sink.spans()) == 5


def test_tracer_provider_argument_is_honoured(sink: SpanSink) -> None:
    global_spans = InMemorySpanExporter()
    global_provider = TracerProvider()
    global_provider.add_span_processor(SimpleSpanProcessor(global_spans))
    with ds.instrumentation(tracer_provider=sink.provider):
        ds.sequential_flow().run_sync(input_data={})
    assert len(sink.spans()) == 5
    assert global_spans.get_finished_spans() == ()
    scope = sink.spans()[0].instrumentation_scope
    assert scope is not None and scope.name == "opentelemetry.instrumentation.dynamiq"


def test_suppressed_instrumentation_makes_no_spans(instrumentor: DynamiqInstrumentor, sink: SpanSink) -> None:
    with suppress_instrumentation():
        result = ds.sequential_flow().run_sync(input_data={})
    assert result.status == RunnableStatus.SUCCESS
    assert sink.spans() == []


def test_the_users_exception_passes_through_unchanged(instrumentor: DynamiqInstrumentor, sink: SpanSink) -> None:
    flow = Flow(nodes=[ds.step("A")])
    with pytest.raises(ValueError, match="Checkpoint not found: no-such-checkpoint") as raised:
        flow.run_sync(input_data={}, resume_from="no-such-checkpoint")
    frames = [frame.name for frame in raised.traceback]
    assert frames[-1] == "run_sync"  # raised by Dynamiq itself, not re-wrapped by us
    (span,) = sink.spans()
    assert span.status.status_code == trace.StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "ValueError"
    assert [event.name for event in span.events] == ["exception"]
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_our_own_failures_are_logged_once_and_swallowed(
    instrumentor: DynamiqInstrumentor,
    sink: SpanSink,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug in the instrumentation")

    monkeypatch.setattr(_wrappers, "span_attributes", broken)
    caplog.set_level(logging.WARNING, logger="opentelemetry.instrumentation.dynamiq")
    results = [ds.sequential_flow().run_sync(input_data={}) for _ in range(3)]
    assert all(result.status == RunnableStatus.SUCCESS for result in results)
    assert len(sink.spans()) == 15  # spans still end, only their description failed
    warnings = [record for record in caplog.records if record.name.startswith("opentelemetry.instrumentation.dynamiq")]
    assert len(warnings) == 1 and "could not describe a finished run" in warnings[0].getMessage()


def test_genai_and_openinference_conventions(
    instrumentor: DynamiqInstrumentor, sink: SpanSink, llm: ds.LocalLLM
) -> None:
    result = ds.agent_with_tool(llm.url).run_sync(input_data={"input": "What is 2 + 2?"})
    assert result.status == RunnableStatus.SUCCESS
    workflow = sink.named("Workflow")[0].attributes or {}
    assert workflow["gen_ai.operation.name"] == "invoke_workflow"
    agent_span = sink.named("Helper")[0]
    assert agent_span.name == "invoke_agent Helper"
    agent = agent_span.attributes or {}
    assert (agent["gen_ai.operation.name"], agent["gen_ai.agent.name"]) == ("invoke_agent", "Helper")
    assert agent["openinference.span.kind"] == "AGENT"
    tool = sink.named("calculator")[0].attributes or {}
    assert (tool["gen_ai.operation.name"], tool["gen_ai.tool.name"]) == ("execute_tool", "calculator")
    assert tool["openinference.span.kind"] == "TOOL"
    first_llm = sink.named("LLM")[0]
    assert first_llm.name == "chat gpt-4o-mini"
    attributes = first_llm.attributes or {}
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.provider.name"] == "openai"
    usage = json.loads(str(attributes["dynamiq.run.metadata"]))["usage"]
    assert attributes["gen_ai.usage.input_tokens"] == usage["prompt_tokens"] > 0
    assert attributes["gen_ai.usage.output_tokens"] == usage["completion_tokens"] > 0
    assert attributes["openinference.span.kind"] == "LLM"
    assert attributes["input.mime_type"] == "application/json"
    assert "What is 2 + 2?" in str(agent["input.value"])
    assert "Answer: 4" in str(sink.named("LLM")[-1].attributes["output.value"])  # type: ignore[index]


class Fetch(ds.Step):
    """A node that calls an HTTP API with httpx, as retrievers and tools do."""

    url: str = ""

    def execute(self, input_data: Any, config: Any = None, **kwargs: Any) -> dict[str, Any]:
        with httpx.Client() as client:
            answer = client.post(self.url, json={"model": "m", "messages": [{"role": "user", "content": "2+2"}]})
        return {"status": answer.status_code}


def test_no_span_attribute_holds_the_connection_key(
    instrumentor: DynamiqInstrumentor, sink: SpanSink, llm: ds.LocalLLM
) -> None:
    ds.agent_with_tool(llm.url).run_sync(input_data={"input": "What is 2 + 2?"})
    assert len(sink.spans()) == 6
    for span in sink.spans():
        for value in (span.attributes or {}).values():
            assert ds.FAKE_LLM_KEY not in str(value), span.name


def test_spans_of_other_instrumentations_nest_under_the_node(
    instrumentor: DynamiqInstrumentor, sink: SpanSink, llm: ds.LocalLLM
) -> None:
    HTTPXClientInstrumentor().instrument(tracer_provider=sink.provider)
    try:
        endpoint = llm.url + "/chat/completions"
        nodes = [Fetch(name="fetch one", url=endpoint), Fetch(name="fetch two", url=endpoint)]
        ds.Workflow(flow=Flow(nodes=nodes)).run_sync(input_data={})  # nodes in Dynamiq's thread pool
        asyncio.run(ds.Workflow(flow=Flow(nodes=nodes)).run_async(input_data={}))  # and from asyncio
    finally:
        HTTPXClientInstrumentor().uninstrument()
    node_spans = {span.context.span_id for name in ("fetch one", "fetch two") for span in sink.named(name)}
    http_spans = [span for span in sink.spans() if span.instrumentation_scope.name.endswith("httpx")]
    assert len(node_spans) == 4 and len(http_spans) == 4
    for span in http_spans:
        assert span.parent is not None and span.parent.span_id in node_spans


def test_spans_made_inside_a_node_in_the_thread_pool_are_its_children(
    instrumentor: DynamiqInstrumentor, sink: SpanSink
) -> None:
    tracer = sink.provider.get_tracer("user-code")

    class Traced(ds.Step):
        def execute(self, input_data: Any, config: Any = None, **kwargs: Any) -> dict[str, Any]:
            with tracer.start_as_current_span(f"inside {self.name}"):
                return super().execute(input_data, config, **kwargs)

    left, right = Traced(name="left", delay=0.02), Traced(name="right", delay=0.02)
    asyncio.run(ds.Workflow(flow=Flow(nodes=[left, right])).run_async(input_data={}))
    ds.Workflow(flow=Flow(nodes=[left, right])).run_sync(input_data={})
    for name in ("left", "right"):
        nodes = {span.context.span_id for span in sink.named(name)}
        inner = [span for span in sink.spans() if span.name == f"inside {name}"]
        assert len(inner) == 2 and all(span.parent is not None and span.parent.span_id in nodes for span in inner)


def test_a_callback_that_attaches_its_own_context_does_not_split_a_run(
    instrumentor: DynamiqInstrumentor, sink: SpanSink
) -> None:
    """An application's handler runs before ours and may make any context current, here one it captured
    before the run: the node's span must still carry its run, once (the record its first event claims is
    found beside the OpenTelemetry context, not inside it)."""
    from dynamiq.callbacks import BaseCallbackHandler
    from dynamiq.runnables import RunnableConfig

    class OwnContext(BaseCallbackHandler):  # type: ignore[misc]
        def __init__(self) -> None:
            self.captured = otel_context.get_current()
            self.tokens: dict[Any, Any] = {}

        def on_node_start(self, serialized: Any, input_data: Any, **kwargs: Any) -> None:
            self.tokens[kwargs["run_id"]] = otel_context.attach(self.captured)

        def on_node_end(self, serialized: Any, output_data: Any, **kwargs: Any) -> None:
            otel_context.detach(self.tokens.pop(kwargs["run_id"]))

    result = ds.sequential_flow().run_sync(input_data={}, config=RunnableConfig(callbacks=[OwnContext()]))
    assert result.status == RunnableStatus.SUCCESS
    for name in ("A", "B", "C"):
        (span,) = [span for span in sink.spans() if span.name == name]
        assert (span.attributes or {}).get("dynamiq.run.status") == "succeeded"
    assert instrumentor.open_runs == 0


@pytest.mark.parametrize(
    "build",
    [ds.sequential_flow, ds.failure_after_retries_and_skip, ds.canceled_run],
    ids=["success", "failure and skip", "cancel"],
)
def test_no_context_is_left_behind(instrumentor: DynamiqInstrumentor, sink: SpanSink, build: Any) -> None:
    outer = sink.provider.get_tracer("app").start_span("request")
    with trace.use_span(outer, end_on_exit=True):
        before = otel_context.get_current()
        build().run_sync(input_data={})
        assert trace.get_current_span() is outer
        assert otel_context.get_current() is before  # the very context the caller had, nothing of the run's in it
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert instrumentor.open_runs == 0


def test_maps_stay_empty_after_a_thousand_mixed_runs(instrumentor: DynamiqInstrumentor, sink: SpanSink) -> None:
    # 5, 5 and 4 runs per workflow: success; failure, skip and success; cancel.
    workflows = [ds.sequential_flow(), ds.failure_after_retries_and_skip(retries=0), ds.canceled_run()]
    for index in range(3 * 72):
        workflows[index % 3].run_sync(input_data={"n": index})
    asyncio.run(_many_async_runs(workflows[0], 30))
    statuses = [(span.attributes or {}).get("dynamiq.run.status") for span in sink.spans()]
    assert len(statuses) == 72 * (5 + 5 + 4) + 30 * 5
    assert {"succeeded", "failed", "skipped", "canceled"} <= set(statuses)
    assert instrumentor.open_runs == 0
    recorder = instrumentor._recorder
    assert isinstance(recorder, RunRecorder)
    assert recorder._records == {} and recorder._builder.runs == {}


async def _many_async_runs(workflow: ds.Workflow, count: int) -> None:
    for index in range(count):
        await workflow.run_async(input_data={"n": index})


def test_entry_point_loads_the_instrumentor() -> None:
    (entry_point,) = entry_points(group="opentelemetry_instrumentor", name="dynamiq")
    assert entry_point.load() is DynamiqInstrumentor
    # Auto-instrumentation checks the distribution's `instruments` extra; instrument() checks
    # _instruments. They must name the same requirement.
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    every = [Requirement(text) for text in requires("otel-dynamiq") or []]
    # The extra's own: in force with it, and not without it (``typing_extensions; python_version < '3.11'``
    # is in force on 3.10 whatever the extras).
    extra = [
        r
        for r in every
        if r.marker is not None and r.marker.evaluate({"extra": "instruments"}) and not r.marker.evaluate({"extra": ""})
    ]
    declared = [Requirement(text) for text in DynamiqInstrumentor().instrumentation_dependencies()]
    assert [(r.name, r.specifier) for r in extra] == [(r.name, r.specifier) for r in declared]


class HandRolled(ds.Step):
    """A node class that runs itself without the base class's run method, announcing its run by hand."""

    def run_sync(self, input_data: Any, config: Any = None, depends_result: Any = None, **kwargs: Any) -> Any:
        from uuid import uuid4

        from dynamiq.runnables import RunnableResult, RunnableStatus

        run_kwargs = {**kwargs, "run_id": uuid4(), "parent_run_id": kwargs.get("parent_run_id")}
        callbacks = config.callbacks if config is not None else []
        self.run_on_node_start(callbacks, {"q": 1}, **run_kwargs)
        self.run_on_node_end(callbacks, {"a": 2}, **run_kwargs)
        return RunnableResult(status=RunnableStatus.SUCCESS, input={"q": 1}, output={"a": 2})


def test_a_run_no_wrapper_saw_still_becomes_a_span(instrumentor: DynamiqInstrumentor, sink: SpanSink) -> None:
    """Events for a run whose node class bypasses the wrapped methods: one span, after the fact, under its flow."""
    result = Flow(nodes=[HandRolled(name="hand-rolled")]).run_sync(input_data={})
    assert result.status == RunnableStatus.SUCCESS
    (span,) = sink.named("hand-rolled")
    (flow,) = sink.named("Flow")
    attributes = span.attributes or {}
    assert attributes["dynamiq.run.status"] == "succeeded"
    assert json.loads(str(attributes["dynamiq.run.output"])) == {"a": 2}
    assert span.parent is not None and span.parent.span_id == flow.context.span_id
    assert span.start_time is not None and span.end_time is not None and span.start_time <= span.end_time
    assert instrumentor.open_runs == 0


def test_unsampled_runs_cost_no_bookkeeping_and_stay_unrecorded() -> None:
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    memory = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    seen: list[Any] = []
    original = RunRecorder._feed

    def spy(self: RunRecorder, event: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(event.handler_method)
        original(self, event, *args, **kwargs)

    with ds.instrumentation(tracer_provider=provider) as instrumentor:
        try:
            RunRecorder._feed = spy  # type: ignore[method-assign]
            result = ds.sequential_flow().run_sync(input_data={})
        finally:
            RunRecorder._feed = original  # type: ignore[method-assign]
        assert instrumentor.open_runs == 0
    assert result.status == RunnableStatus.SUCCESS
    assert memory.get_finished_spans() == ()
    assert seen == []  # no run was built for spans nobody records


def test_a_running_node_is_serialized_for_tracing_once_per_dump(
    sink: SpanSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dynamiq dumps a node for every callback of a tracing handler, and again inside each workflow and flow
    dump; the instrumentation dumps each node run once, and reads only the identity of workflows and flows."""
    from collections import Counter

    from dynamiq.callbacks import TracingCallbackHandler
    from dynamiq.nodes import Node
    from dynamiq.runnables import RunnableConfig

    dumps: Counter[str] = Counter()
    original = Node.model_dump

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(self, ds.Step):
            dumps[self.name] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Node, "model_dump", counting)
    ds.sequential_flow().run_sync(input_data={}, config=RunnableConfig(callbacks=[TracingCallbackHandler()]))
    native = dict(dumps)
    dumps.clear()
    with ds.instrumentation(tracer_provider=sink.provider):
        ds.sequential_flow().run_sync(input_data={})
    # Native: the node for each of its 4 callbacks, within the flow's 2 dumps and the workflow's 2.
    assert native == {"A": 8, "B": 8, "C": 8}
    assert dict(dumps) == {"A": 1, "B": 1, "C": 1}
    assert len(sink.spans()) == 5


class Unprintable:
    """A value with no text form, as Dynamiq's own `Unreadable` is: formatting it for tracing raises."""

    def __str__(self) -> str:
        raise RuntimeError("this value cannot be shown")

    def __repr__(self) -> str:
        return "Unprintable()"


def test_a_value_dynamiq_cannot_format_still_gives_its_run(caplog: pytest.LogCaptureFixture) -> None:
    workflow = ds.Workflow(flow=Flow(nodes=[ds.Step(name="reads")]))
    untraced = workflow.run_sync(input_data={"doc": Unprintable()})
    caplog.set_level(logging.DEBUG, logger="opentelemetry.instrumentation.dynamiq")
    with ds.instrumented() as traced:
        for _ in range(2):
            result = workflow.run_sync(input_data={"doc": Unprintable()})
            assert (result.status, result.output) == (untraced.status, untraced.output)
        runs = traced.flush(expected_runs=6)
        failures = traced.instrumentor.recording_failures

    nodes = [run for run in runs if run["name"] == "reads"]
    assert len(nodes) == 2
    for node in nodes:
        assert node["status"] == "succeeded"
        assert node["metadata"]["node"]["name"] == "reads"
        assert node["input"]["doc"] == "Unprintable() (otel-dynamiq: Dynamiq could not format this value for tracing)"
        assert node["output"] == {"value": "reads done", "seen": ["doc"]}
    ours = [record for record in caplog.records if record.name.startswith("opentelemetry.instrumentation.dynamiq")]
    warnings = [record for record in ours if record.levelno >= logging.WARNING]
    # The workflow, the flow and the node each meet the value at start: one warning per kind, no traceback.
    assert warnings and all(record.exc_info is None for record in warnings)
    assert len({record.getMessage() for record in warnings}) == len(warnings)
    assert "this value cannot be shown" in warnings[0].getMessage()
    assert sum(failures.values()) == 2 * len(warnings)  # the second run's failures are counted, logged at DEBUG


class _TracerThatCannotStart(trace.NoOpTracer):
    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        raise RuntimeError("this tracer\ncannot start spans")


class _ProviderOfBrokenTracers(trace.NoOpTracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _TracerThatCannotStart()


def test_a_failure_of_ours_is_one_warning_line_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """A traceback in the application's stderr would read as the application's own failure."""
    workflow = ds.Workflow(flow=Flow(nodes=[ds.Step(name="reads")]))
    untraced = workflow.run_sync(input_data={"doc": "a"})
    caplog.set_level(logging.DEBUG, logger="opentelemetry.instrumentation.dynamiq")
    with ds.instrumentation(tracer_provider=_ProviderOfBrokenTracers()):
        for _ in range(2):
            result = workflow.run_sync(input_data={"doc": "a"})
            assert (result.status, result.output) == (untraced.status, untraced.output)
    ours = [record for record in caplog.records if record.name.startswith("opentelemetry.instrumentation.dynamiq")]
    (warning,) = [record for record in ours if record.levelno >= logging.WARNING]
    assert warning.exc_info is None and "\n" not in warning.getMessage()
    assert warning.getMessage().endswith("RuntimeError: this tracer cannot start spans")
    assert any(record.exc_info for record in ours if record.levelno == logging.DEBUG)  # the traceback, for debugging


def test_only_an_llm_node_says_at_its_start_that_it_is_a_model_call() -> None:
    """Dynamiq's embedder runs carry no usage: the client span under one is the only run that can count it."""
    from opentelemetry.instrumentation.dynamiq._attributes import RunnableFacts, start_attributes

    llm = RunnableFacts(kind="node", name="LLM", group="llms", model="openai/gpt-4o-mini")
    embedder = RunnableFacts(kind="node", name="Embedder", group="embedders", model="openai/text-embedding-3-small")
    assert start_attributes(llm) == {"gen_ai.operation.name": "chat"}
    assert start_attributes(embedder) is None


def test_instrumented_before_the_sdk_provider_is_set_still_marks_nested_calls(
    monkeypatch: pytest.MonkeyPatch, llm: ds.LocalLLM
) -> None:
    """The marker joins the provider at the first run when instrument() came first."""
    from otel_dynamiq import NestedCallMarker

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", trace.Once())
    instrumentor = DynamiqInstrumentor()
    instrumentor.instrument()
    try:
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        ds.agent_with_tool(llm.url).run_sync(input_data={"input": "What is 2 + 2?"})
        markers = [p for p in provider._active_span_processor._span_processors if isinstance(p, NestedCallMarker)]
        assert len(markers) == 1
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def test_the_marker_the_instrumentor_adds_writes_where_the_exporter_reads() -> None:
    """Given ``span_notes``, the marker goes there, as the exporter given the same notes reads them."""
    from otel_dynamiq.processors import SHARED_NOTES, NestedCallMarker, SpanNotes

    own, plain = TracerProvider(), TracerProvider()
    notes = SpanNotes()
    with ds.instrumentation(tracer_provider=own, span_notes=notes):
        pass
    with ds.instrumentation(tracer_provider=plain):
        pass

    def markers_notes(provider: TracerProvider) -> list[SpanNotes]:
        processors = provider._active_span_processor._span_processors
        return [processor._notes for processor in processors if isinstance(processor, NestedCallMarker)]

    assert markers_notes(own) == [notes]
    assert markers_notes(plain) == [SHARED_NOTES]
