"""A node's facts, read at every run start without pydantic's exception path, answer as plain ``getattr`` does.

The oracle is ``getattr(instance, name, None)``: whatever class the
attribute comes from (a field, a property, extra fields, a custom
``__getattr__``, a value put in the instance's dict by hand), the faster
reading must give the same answer. Facts are kept by the values they are made
from, so a renamed or re-pointed node shows its new name and model on its
next run's span.
"""

from __future__ import annotations

import enum
import gc
import weakref
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from dynamiq import connections
from dynamiq.nodes import Node, NodeGroup
from dynamiq.nodes.llms import OpenAI
from dynamiq.runnables import RunnableConfig
from opentelemetry.instrumentation.dynamiq._facts import facts_for_node, optional_attribute
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel, ConfigDict

from tests.support import dynamiq_apps as ds

pytestmark = pytest.mark.same_on_every_python  # attribute lookup and pydantic answer alike on every Python we support


class Plain(BaseModel):
    name: str = "plain"


class WithExtras(BaseModel):
    model_config = ConfigDict(extra="allow")


class WithProperty(BaseModel):
    @property
    def model(self) -> str:
        return "from-a-property"


class WithOwnGetattr(BaseModel):
    def __getattr__(self, name: str) -> Any:
        if name == "model":
            return "from-its-own-getattr"
        return super().__getattr__(name)


class WithOwnGetattribute(BaseModel):
    def __getattribute__(self, name: str) -> Any:
        if name == "model":
            return "from-its-own-getattribute"
        return super().__getattribute__(name)


class NotPydantic:
    connection = "a class attribute"


def _placed_by_hand() -> Plain:
    made = Plain()
    object.__setattr__(made, "model", "put-in-its-dict")
    return made


INSTANCES = {
    "a field with a value": lambda: OpenAI(connection=connections.OpenAI(api_key="sk-x"), model="openai/gpt-4o"),
    "a model without the attribute": Plain,
    "extra fields holding it": lambda: WithExtras(model="from-extras", connection="conn"),
    "extra fields without it": WithExtras,
    "a property": WithProperty,
    "its own __getattr__": WithOwnGetattr,
    "its own __getattribute__": WithOwnGetattribute,
    "not a pydantic model": NotPydantic,
    "put in the instance's dict by hand": _placed_by_hand,
    "a Dynamiq node without a model": lambda: ds.step("s"),
}


@pytest.mark.parametrize("case", sorted(INSTANCES))
@pytest.mark.parametrize("name", ["model", "connection", "name", "group"])
def test_an_optional_attribute_reads_as_getattr_does(case: str, name: str) -> None:
    instance = INSTANCES[case]()
    for _ in range(2):  # twice: the first reading must leave nothing behind that changes the second
        assert optional_attribute(instance, name) is getattr(instance, name, None)


def test_an_llm_nodes_facts_name_its_model_and_provider() -> None:
    facts = facts_for_node(OpenAI(connection=connections.OpenAI(api_key="sk-x"), model="openai/gpt-4o", name="LLM"))
    assert (facts.kind, facts.name, facts.group, facts.model, facts.provider) == (
        "node",
        "LLM",
        "llms",
        "gpt-4o",
        "openai",
    )


class _Sink:
    def __init__(self) -> None:
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))


@pytest.fixture
def sink() -> Iterator[_Sink]:
    made = _Sink()
    with ds.instrumentation(tracer_provider=made.provider):
        yield made
    made.provider.shutdown()


def test_a_node_renamed_between_runs_names_its_next_span_anew(sink: _Sink) -> None:
    node = ds.step("before")
    node.run_sync(input_data={})
    node.name = "after"
    node.run_sync(input_data={})
    assert [span.name for span in sink.memory.get_finished_spans()] == ["before", "after"]


def test_an_llm_node_given_another_model_names_it_on_its_next_facts() -> None:
    llm = OpenAI(connection=connections.OpenAI(api_key="sk-x"), model="gpt-4o-mini", name="LLM")
    first = facts_for_node(llm)
    llm.model = "gpt-4.1"
    assert (first.model, facts_for_node(llm).model) == ("gpt-4o-mini", "gpt-4.1")


def test_a_workflow_renamed_between_runs_names_its_next_span_anew(sink: _Sink) -> None:
    workflow = ds.sequential_flow()
    workflow.name = "first name"
    workflow.run_sync(input_data={})
    workflow.name = "second name"
    workflow.run_sync(input_data={})
    names = [
        span.attributes.get("gen_ai.workflow.name")
        for span in sink.memory.get_finished_spans()
        if span.attributes and "gen_ai.workflow.name" in span.attributes
    ]
    assert names == ["first name", "second name"]


class _ConfiguredLater(Node):
    """An LLM-group node whose model a class attribute gives, set after its first run."""

    group: Literal[NodeGroup.LLMS] = NodeGroup.LLMS
    name: str = "configured-later"

    def execute(self, input_data: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict[str, Any]:
        return {"content": "hi"}


def test_a_model_the_class_gains_after_a_run_names_the_next_span(sink: _Sink) -> None:
    node = _ConfiguredLater()
    node.run_sync(input_data={})
    try:
        _ConfiguredLater.model = "openai/gpt-4o-mini"  # type: ignore[attr-defined]
        node.run_sync(input_data={})
    finally:
        del _ConfiguredLater.model  # type: ignore[attr-defined]
    spans = sink.memory.get_finished_spans()
    assert [span.name for span in spans] == ["chat configured-later", "chat gpt-4o-mini"]
    assert (spans[1].attributes or {}).get("gen_ai.provider.name") == "openai"


def test_node_classes_made_per_request_are_not_kept_alive() -> None:
    def one_request() -> weakref.ref[type]:
        made = type("MadePerRequest", (_ConfiguredLater,), {"__module__": __name__})
        node = made(name="per-request")
        facts_for_node(node)
        optional_attribute(node, "model")
        return weakref.ref(made)

    classes = [one_request() for _ in range(3)]
    gc.collect()
    assert [made() for made in classes] == [None, None, None]


class _NotTheirValue(str, enum.Enum):
    TOOLS = "llms"

    def __str__(self) -> str:
        return "tools"


@pytest.mark.parametrize(
    "groups",
    [(True, 1, 1.0), (0.0, -0.0), ("llms", _NotTheirValue.TOOLS), (NodeGroup.LLMS, "llms")],
    ids=["bool-int-float", "signed-zeros", "str-enum-with-another-value", "dynamiq-group-and-its-text"],
)
def test_groups_that_compare_equal_are_named_as_each_would_be_alone(groups: tuple[Any, ...]) -> None:
    node = ds.step("grouped")
    for group in groups:
        object.__setattr__(node, "group", group)
        expected = getattr(group, "value", group)
        assert facts_for_node(node).group == str(expected)
