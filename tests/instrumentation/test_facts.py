"""A node's facts, read at every run start without pydantic's exception path, answer as plain ``getattr`` does.

The oracle is ``getattr(instance, name, None)``: whatever class the
attribute comes from (a field, a property, extra fields, a custom
``__getattr__``, a value put in the instance's dict by hand), the faster
reading must give the same answer. Facts are kept by the values they are made
from, so a renamed or re-pointed node shows its new name and model on its
next run's span.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dynamiq import connections
from dynamiq.nodes.llms import OpenAI
from opentelemetry.instrumentation.dynamiq._facts import facts_for_node, optional_attribute
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel, ConfigDict

from tests.support import dynamiq_apps as ds


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
    "not a pydantic model": NotPydantic,
    "put in the instance's dict by hand": _placed_by_hand,
    "a Dynamiq node without a model": lambda: ds.step("s"),
}


@pytest.mark.parametrize("case", sorted(INSTANCES))
@pytest.mark.parametrize("name", ["model", "connection", "name", "group"])
def test_an_optional_attribute_reads_as_getattr_does(case: str, name: str) -> None:
    instance = INSTANCES[case]()
    for _ in range(2):  # the second reading is answered from what the first one learned about the class
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
