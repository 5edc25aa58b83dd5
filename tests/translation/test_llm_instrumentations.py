"""The popular LLM instrumentations, installed from the registry and run for real, become first-class runs.

Each test starts ``tests/apps/llm_app.py`` (``python -m tests.apps.llm_app``) in a subprocess against the local
OpenAI-compatible server (``examples/local_llm.py``) and reads back what the
local collector received: the run of each call, found under the span of its
scenario. The subprocess keeps each instrumentation's global patches and the
process-wide logger provider out of the test process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from dynamiq import Workflow, connections
from dynamiq.callbacks import TracingCallbackHandler
from dynamiq.flows import Flow
from dynamiq.nodes import Node, NodeGroup
from dynamiq.nodes.embedders import OpenAITextEmbedder
from dynamiq.nodes.tools.python import Python
from dynamiq.runnables import RunnableConfig
from dynamiq.types import Document

from otel_dynamiq.collector import LocalCollector
from tests.apps.llm_app import tiny_png
from tests.support.common import wait_for
from tests.support.dynamiq_apps import KeepRuns, LocalLLM
from tests.support.processes import BIN, ROOT, clean_env

# Not on the Python matrix: the same pinned releases everywhere, and their spans' translation is
# pure code tested on every Python.
pytestmark = pytest.mark.same_on_every_python

APP = "tests.apps.llm_app"
Runs = dict[str, list[dict[str, Any]]]
"""The runs under each scenario's span, by scenario name."""

STDERR: dict[str, str] = {}
"""What the app printed on stderr, by instrumentation: warnings are part of what a user sees."""
CONTENT = ("What is 2 + 2?", "hello there", "add 2 and 2", "Be brief.")


@pytest.fixture(scope="module")
def llm() -> Iterator[LocalLLM]:
    with LocalLLM() as running:
        yield running


def run_app(
    llm: LocalLLM,
    calls: Literal["openai", "langchain", "litellm", "pydantic-ai"],
    manual: str | None = None,
    **environment: str,
) -> tuple[Runs, list[dict[str, Any]]]:
    """Run the app once against a fresh collector; its runs by scenario, and all of them.

    Whatever the instrumentation, the runs' summed ``metadata.usage`` must be what the LLM answered.
    """
    answered_before = len(llm.usages)
    with LocalCollector() as collector:
        command = [sys.executable, "-m", APP, llm.url, calls]
        if manual:
            command += ["--manual", manual]
        else:
            command = [str(BIN / "opentelemetry-instrument"), *command]
        env = clean_env(OTEL_EXPORTER_DYNAMIQ_ENDPOINT=collector.url, OTEL_SERVICE_NAME="llm-app", **environment)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        STDERR[manual or "auto"] = done.stderr
        assert "Could not translate" not in done.stderr, done.stderr
        scenarios = {"langchain": 3, "litellm": 5, "openai": 8, "pydantic-ai": 4}[calls]
        wait_for(lambda: sum(run["name"].startswith("scenario ") for run in collector.store.runs()) >= scenarios)
        runs = collector.store.runs()
    answered = llm.usages[answered_before:]
    truth = (
        sum(usage["prompt_tokens"] for usage in answered),
        sum(usage.get("completion_tokens", 0) for usage in answered),
    )
    assert counted(runs) == truth, "the trace's usage is not what the LLM answered"
    roots = {run["id"]: run["name"].removeprefix("scenario ") for run in runs if run["name"].startswith("scenario ")}
    by_id = {run["id"]: run for run in runs}
    grouped: Runs = {name: [] for name in roots.values()}
    for run in runs:
        ancestor = run
        while ancestor["parent_run_id"] is not None and ancestor["parent_run_id"] in by_id:
            ancestor = by_id[ancestor["parent_run_id"]]
        if ancestor["id"] in roots and ancestor is not run:
            grouped[roots[ancestor["id"]]].append(run)
    return grouped, runs


def one(runs: list[dict[str, Any]], group: str, scope: str | None = None) -> dict[str, Any]:
    found = [
        run
        for run in runs
        if run["metadata"].get("node", {}).get("group") == group
        and (scope is None or run["metadata"]["otel"]["scope"]["name"].startswith(scope))
    ]
    assert len(found) == 1, [run["name"] for run in runs]
    return found[0]


def assert_llm_run(run: dict[str, Any], usage: tuple[int, int] | None, provider: str = "openai") -> None:
    node = run["metadata"]["node"]
    assert (node["group"], node["model"], node["provider"]) == ("llms", "gpt-4o-mini", provider)
    if usage is None:
        assert "usage" not in run["metadata"]
    else:
        prompt, completion = usage
        assert run["metadata"]["usage"] == {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }


DETAILED = {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
"""What the local LLM answers o4-mini with; its details are 2 cached, 1 cache-written, 3 reasoning tokens."""


def assert_openai_calls(runs: Runs, scope: str, failed_type: str, details: dict[str, int] | None = None) -> None:
    """What every OpenAI instrumentation must show for the app's calls, content on.

    ``details`` are the usage details the instrumentation reports, under their one name each.
    """
    detailed = one(runs["detailed usage"], "llms", scope)
    assert detailed["metadata"]["usage"] == {**DETAILED, **(details or {})}
    chat = one(runs["chat"], "llms", scope)
    assert_llm_run(chat, (7, 1))
    assert chat["input"] == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}]
    }
    assert chat["output"] == {"content": "4"}

    streamed = one(runs["stream with usage"], "llms", scope)
    assert_llm_run(streamed, (2, 4))
    assert streamed["input"] == {"messages": [{"role": "user", "content": "hello there"}]}
    assert streamed["output"] == {"content": "You said: hello there"}

    quiet = one(runs["stream without usage"], "llms", scope)
    assert_llm_run(quiet, None)  # the server reported none, so there is none to show
    assert quiet["output"] == {"content": "You said: hello again"}

    failed = one(runs["failing"], "llms", scope)
    assert failed["status"] == "failed"
    assert failed["metadata"]["node"]["model"] == "failing-model"
    assert failed["error"]["type"] == failed_type
    assert "500" in failed["error"]["message"] and "the local model is down" in failed["error"]["message"]

    tool_call = one(runs["tool call"], "llms", scope)
    assert_llm_run(tool_call, (4, 5))
    assert tool_call["output"] == {
        "content": None,
        "tool_calls": [
            {"id": "call_local_1", "type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 2}}}
        ],
    }

    embedding = one(runs["embeddings"], "embedders", scope)
    node = embedding["metadata"]["node"]
    assert (node["model"], node["provider"]) == ("text-embedding-3-small", "openai")
    assert embedding["metadata"]["usage"]["prompt_tokens"] == 2


def assert_nothing_repeated(runs: list[dict[str, Any]]) -> None:
    """Content that became a run field is not carried again under metadata.otel."""
    for run in runs:
        otel = run["metadata"].get("otel", {})
        attributes = otel.get("attributes", {})
        repeated = [
            key
            for key in attributes
            if key.startswith(("llm.input_messages.", "llm.output_messages.", "gen_ai.input.", "gen_ai.output."))
            or key in ("input.value", "output.value", "llm.model_name", "gen_ai.request.model", "llm.system")
        ]
        assert not repeated, (run["name"], repeated)
        if run["status"] == "failed" and run["error"].get("traceback"):
            assert not [event for event in otel.get("events", []) if event["name"] == "exception"]


def test_openai_v2_content_logged_as_events_reaches_the_runs(llm: LocalLLM) -> None:
    """The previous GenAI conventions log content as events; with manual setup and no logs pipeline it arrives."""
    runs, everything = run_app(llm, "openai", "openai-v2", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    assert_openai_calls(runs, "opentelemetry.instrumentation.openai_v2", failed_type="InternalServerError")
    assert_nothing_repeated(everything)


@pytest.mark.parametrize("mode", ["span_only", "event_only", "span_and_event"])
def test_openai_v2_latest_conventions_in_both_content_forms(llm: LocalLLM, mode: str) -> None:
    runs, everything = run_app(
        llm,
        "openai",
        "openai-v2",
        OTEL_SEMCONV_STABILITY_OPT_IN="gen_ai_latest_experimental",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=mode,
    )
    assert_openai_calls(runs, "opentelemetry", failed_type="InternalServerError")
    assert_nothing_repeated(everything)


NO_CONTENT = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "no_content"}


@pytest.mark.parametrize(
    ("manual", "hide"),
    [
        ("openai-v2", {}),
        ("openai-v2", {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental"}),
        ("openai-v2", {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental", **NO_CONTENT}),
        ("openinference-openai", {"OPENINFERENCE_HIDE_INPUTS": "true", "OPENINFERENCE_HIDE_OUTPUTS": "true"}),
    ],
)
def test_no_content_reaches_dynamiq_when_capture_is_off(llm: LocalLLM, manual: str, hide: dict[str, str]) -> None:
    runs, everything = run_app(llm, "openai", manual, **hide)
    chat = one(runs["chat"], "llms")
    assert_llm_run(chat, (7, 1))
    # OpenInference leaves its own marker where it hid something; openai-v2 leaves nothing.
    assert chat["input"] in (None, "__REDACTED__") and chat["output"] in (None, "__REDACTED__")
    sent = json.dumps(everything)
    assert not [text for text in CONTENT if text in sent]


def test_openinference_openai(llm: LocalLLM) -> None:
    runs, everything = run_app(llm, "openai", "openinference-openai")
    assert_openai_calls(
        runs,
        "openinference",
        failed_type="openai.InternalServerError",
        details={"cache_read_input_tokens": 2, "reasoning_output_tokens": 3},
    )
    assert_nothing_repeated(everything)
    embedding = one(runs["embeddings"], "embedders")
    assert embedding["input"] == {"query": "a b"}
    assert set(embedding["output"]) == {"embedding", "query"}


def test_openinference_langchain_chain_tool_and_retriever(llm: LocalLLM) -> None:
    runs, everything = run_app(llm, "langchain", "openinference-langchain")
    chat = one(runs["chain"], "llms")
    assert_llm_run(chat, (7, 1))
    # The messages, not LangChain's serialized constructor; the answer, not the whole LLMResult.
    assert chat["input"] == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}]
    }
    assert chat["output"] == {"content": "4"}
    # OpenInference's metadata attribute is the user's metadata, as a Dynamiq handler's is: beside node and usage.
    assert chat["metadata"]["team"] == "qa"
    chain = next(run for run in runs["chain"] if run["name"] == "RunnableSequence")
    assert chain["metadata"]["node"]["group"] == "operators"
    assert (chain["input"], chain["output"]) == ("What is 2 + 2?", "4")
    assert chat["parent_run_id"] == chain["id"]
    tool = one(runs["tool"], "tools")
    assert (tool["name"], tool["input"], tool["output"]) == ("add", {"a": 2, "b": 2}, {"content": 4})
    retriever = one(runs["retriever"], "retrievers")
    assert retriever["input"] == {"query": "capital of France"}
    assert [document["content"] for document in retriever["output"]["documents"]] == [
        "Paris is the capital of France.",
        "Berlin is the capital of Germany.",
    ]
    assert_nothing_repeated(everything)


def test_opentelemetry_instrument_routes_content_events_and_names_http_failures(llm: LocalLLM) -> None:
    """The CLI turns log export off; content logged as events still reaches the runs, and HTTP failures say why."""
    runs, _everything = run_app(llm, "openai", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    chat = one(runs["chat"], "llms", "opentelemetry.instrumentation.openai_v2")
    assert chat["input"]["messages"][1] == {"role": "user", "content": "What is 2 + 2?"}
    assert chat["output"] == {"content": "4"}
    http = [run for run in runs["failing"] if run["metadata"]["otel"]["scope"]["name"].endswith("httpx")]
    assert http and all(run["status"] == "failed" for run in http)
    assert {run["error"]["message"] for run in http} == {"POST answered HTTP 500"}
    assert {run["error"]["type"] for run in http} == {"500"}


def counted(runs: list[dict[str, Any]]) -> tuple[int, int]:
    """The usage Dynamiq sums over these runs: only runs with ``metadata.usage`` count."""
    usages = [run["metadata"]["usage"] for run in runs if "usage" in run["metadata"]]
    return sum(usage["prompt_tokens"] for usage in usages), sum(usage["completion_tokens"] for usage in usages)


ASKED = {"id": "call_local_1", "type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 2}}}
TOOLS_OFFERED = {
    "name": "add",
    "description": "Adds two numbers a and b.",
    "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
    "type": "function",
}
TOOL_ANSWER_INPUT = {
    "messages": [
        {"role": "user", "content": "add 2 and 2"},
        {"role": "assistant", "content": None, "tool_calls": [ASKED]},
        {"role": "tool", "content": "4", "tool_call_id": "call_local_1"},
    ]
}


def test_openllmetry_openai(llm: LocalLLM) -> None:
    """OpenLLMetry (Traceloop) 0.6x: the current GenAI attributes, its chunk events, its embedding texts."""
    runs, everything = run_app(llm, "openai", "openllmetry-openai")
    assert_openai_calls(
        runs,
        "opentelemetry.instrumentation.openai",
        failed_type="openai.InternalServerError",
        details={"cache_read_input_tokens": 2, "reasoning_output_tokens": 3},
    )
    assert_nothing_repeated(everything)
    answer = one(runs["tool answer"], "llms")
    # It records the tools offered (gen_ai.tool.definitions): beside the messages, as in the request.
    assert answer["input"] == {**TOOL_ANSWER_INPUT, "tools": [TOOLS_OFFERED]}
    assert answer["output"] == {"content": "The tool says 4."}
    assert one(runs["embeddings"], "embedders")["input"] == {"query": "a b"}
    # One span event per streamed chunk, shown as one event with their count.
    (chunks,) = one(runs["stream with usage"], "llms")["metadata"]["otel"]["events"]
    assert chunks["name"] == "gen_ai.content.completion.chunk" and chunks["attributes"]["count"] > 1
    for scenario, truth in (("chat", (7, 1)), ("tool call", (4, 5)), ("embeddings", (2, 0))):
        assert counted(runs[scenario]) == truth, scenario


def test_openllmetry_events_mode_content_reaches_the_runs_or_a_warning_says_why(llm: LocalLLM) -> None:
    runs, _ = run_app(llm, "openai", "openllmetry-openai-events")
    assert one(runs["chat"], "llms")["input"] is None
    assert (
        "OpenLLMetry (Traceloop) LLM span arrived without its prompt and answer" in STDERR["openllmetry-openai-events"]
    )
    runs, everything = run_app(
        llm, "openai", "openllmetry-openai-events", OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true"
    )
    assert "without its prompt and answer" not in STDERR["openllmetry-openai-events"]
    chat = one(runs["chat"], "llms")
    assert chat["input"] == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}]
    }
    assert chat["output"] == {"content": "4"}
    # Its gen_ai.choice event carries the tool calls beside the message, not in it.
    assert one(runs["tool call"], "llms")["output"] == {"content": None, "tool_calls": [ASKED]}
    assert_nothing_repeated(everything)


def test_two_instrumentations_of_one_client_count_each_call_once(llm: LocalLLM) -> None:
    runs, _ = run_app(llm, "openai", "openai-v2+openinference-openai")
    for scenario, truth in (("chat", (7, 1)), ("stream with usage", (2, 4)), ("tool call", (4, 5))):
        calls = [run for run in runs[scenario] if run["metadata"].get("node", {}).get("group") == "llms"]
        assert len(calls) == 2, scenario  # both stay visible
        assert counted(runs[scenario]) == truth, scenario
        (shown,) = [run for run in calls if "usage" not in run["metadata"]]
        assert shown["metadata"]["otel"]["usage"]["prompt_tokens"] == truth[0]
        assert shown["metadata"]["otel"]["usage_counted_in"] == shown["parent_run_id"]


def test_litellm_otel_callback(llm: LocalLLM) -> None:
    """LiteLLM's own "otel" callback: litellm_request spans, its tool calls as function_call, embeddings."""
    runs, everything = run_app(llm, "litellm", "litellm-otel")
    chat = one(runs["chat"], "llms", "litellm")
    assert_llm_run(chat, (7, 1))
    assert chat["input"] == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}]
    }
    assert chat["output"] == {"content": "4"}
    tool_call = one(runs["tool call"], "llms", "litellm")
    assert_llm_run(tool_call, (4, 5))
    assert tool_call["output"] == {"content": None, "tool_calls": [{**ASKED, "id": None}]}  # LiteLLM records no id
    failed = one(runs["failing"], "llms", "litellm")
    assert (failed["status"], failed["metadata"]["node"]["model"]) == ("failed", "failing-model")
    assert failed["error"]["type"] == "litellm.exceptions.InternalServerError"
    assert "the local model is down" in failed["error"]["message"]
    # Its usage object is the only place LiteLLM records the details.
    assert one(runs["detailed usage"], "llms", "litellm")["metadata"]["usage"] == {
        **DETAILED,
        "cache_read_input_tokens": 2,
        "cache_creation_input_tokens": 1,
        "reasoning_output_tokens": 3,
    }
    embedding = one(runs["embeddings"], "embedders", "litellm")
    node = embedding["metadata"]["node"]
    assert (node["model"], node["provider"]) == ("text-embedding-3-small", "openai")
    assert embedding["input"] == {"query": "a b"}
    assert counted(runs["embeddings"]) == (2, 0)
    for scenario, truth in (("chat", (7, 1)), ("tool call", (4, 5))):
        assert counted(runs[scenario]) == truth, scenario
    assert_nothing_repeated(everything)


# Field by field against Dynamiq's own runs of the same kind of node.


@pytest.fixture(scope="module")
def openinference_runs(llm: LocalLLM) -> Runs:
    return run_app(llm, "openai", "openinference-openai")[0]


@pytest.fixture(scope="module")
def langchain_runs(llm: LocalLLM) -> Runs:
    return run_app(llm, "langchain", "openinference-langchain")[0]


def native_node_run(node: Node, input_data: dict[str, Any]) -> dict[str, Any]:
    client = KeepRuns()
    Workflow(flow=Flow(nodes=[node])).run_sync(
        input_data=input_data, config=RunnableConfig(callbacks=[TracingCallbackHandler(client=client)])
    )
    (run,) = [run for run in client.runs.values() if run["type"] == "node"]
    return run


def assert_shaped_like(ours: dict[str, Any], native: dict[str, Any]) -> None:
    """The fields a Dynamiq user reads, compared one by one."""
    assert set(ours) == set(native)
    for name in ("type", "status", "error", "executions"):
        if name == "executions":
            assert isinstance(ours[name], list)
        else:
            assert ours[name] == native[name], name
    assert ours["metadata"]["node"]["group"] == native["metadata"]["node"]["group"]
    assert ours["metadata"]["node"]["name"] == native["metadata"]["node"]["name"]


def test_an_embedding_run_looks_like_a_native_text_embedder_run(llm: LocalLLM, openinference_runs: Runs) -> None:
    connection = connections.OpenAI(api_key="sk-test-not-a-real-key", url=llm.url)
    native = native_node_run(
        OpenAITextEmbedder(
            name="CreateEmbeddings", connection=connection, model="text-embedding-3-small", dimensions=8
        ),
        {"query": "a b"},
    )
    ours = one(openinference_runs["embeddings"], "embedders")
    assert_shaped_like(ours, native)
    assert ours["input"] == native["input"]
    assert ours["output"] == native["output"]  # the same vector, cut as Dynamiq cuts it
    assert ours["metadata"]["node"]["model"] == native["metadata"]["node"]["model"]


def test_a_tool_run_looks_like_a_native_tool_run(langchain_runs: Runs) -> None:
    code = "def run(input_data):\n    return input_data['a'] + input_data['b']\n"
    native = native_node_run(Python(name="add", description="Adds two numbers a and b.", code=code), {"a": 2, "b": 2})
    ours = one(langchain_runs["tool"], "tools")
    assert_shaped_like(ours, native)
    assert ours["name"] == native["name"]
    assert (ours["input"], ours["output"]) == (native["input"], native["output"])
    assert ours["metadata"]["node"]["description"] == native["metadata"]["node"]["description"]


class Shelf(Node):
    """A retriever as Dynamiq nodes are: its group, a query in, Documents out."""

    group: Literal[NodeGroup.RETRIEVERS] = NodeGroup.RETRIEVERS
    name: str = "Shelf"

    def execute(self, input_data: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict[str, Any]:
        return {
            "documents": [
                Document(content="Paris is the capital of France.", metadata={"source": "atlas"}),
                Document(content="Berlin is the capital of Germany.", metadata={"source": "atlas"}),
            ]
        }


def test_a_retriever_run_looks_like_a_native_retriever_run(langchain_runs: Runs) -> None:
    native = native_node_run(Shelf(), {"query": "capital of France"})
    ours = one(langchain_runs["retriever"], "retrievers")
    assert_shaped_like(ours, native)
    assert ours["input"] == native["input"]
    native_documents, our_documents = native["output"]["documents"], ours["output"]["documents"]
    assert [set(document) for document in our_documents] == [set(document) for document in native_documents]
    for mine, theirs in zip(our_documents, native_documents, strict=True):
        assert {key: mine[key] for key in ("content", "metadata", "embedding", "score")} == {
            key: theirs[key] for key in ("content", "metadata", "embedding", "score")
        }


@pytest.mark.parametrize("message_format", [5, 6])
def test_pydantic_ai_agents_count_each_call_once_and_show_what_they_were_asked(
    llm: LocalLLM, message_format: int
) -> None:
    """pydantic-ai 2.x: its agent span reports the total of its chat spans; the total is shown, not counted."""
    answered_before = len(llm.usages)
    runs, everything = run_app(llm, "pydantic-ai", "pydantic-ai", PYDANTIC_AI_FORMAT=str(message_format))
    answered = llm.usages[answered_before:]
    truth = (sum(usage["prompt_tokens"] for usage in answered), sum(usage["completion_tokens"] for usage in answered))
    assert counted(everything) == truth  # one count per call the LLM answered, agents included

    agent = one(runs["agent"], "agents")
    assert agent["metadata"]["node"]["name"] == "calculator"
    assert agent["input"]["input"] == "What is 2 + 2?"
    assert agent["input"]["messages"][0] == {"role": "system", "content": "Answer tersely."}
    assert agent["output"]["content"] == "4"
    assert "usage" not in agent["metadata"]
    assert agent["metadata"]["otel"]["usage_aggregate"] is True
    assert agent["metadata"]["otel"]["usage"]["prompt_tokens"] == counted(runs["agent"])[0]

    tool_agent = one(runs["agent with tool"], "agents")
    tool_answer = [message for message in tool_agent["output"]["messages"] if message["role"] == "tool"]
    assert tool_answer == [{"role": "tool", "content": "4", "tool_call_id": "call_local_1"}]  # "user" in format 5
    calls = [run for run in runs["agent with tool"] if run["metadata"]["node"]["group"] == "llms"]
    assert len(calls) == 2 and all(run["metadata"]["usage"]["total_tokens"] > 0 for run in calls)
    assert calls[0]["input"]["tools"][0]["name"] == "add"
    tool = one(runs["agent with tool"], "tools")
    assert (tool["name"], tool["input"], tool["output"]) == ("add", {"a": 2, "b": 2}, {"content": 4})

    structured = one(runs["structured"], "agents")
    assert structured["output"]["content"] == {"a": 2, "b": 2}  # parsed, not JSON text

    (looked,) = [run for run in runs["image"] if run["metadata"]["node"]["group"] == "llms"]
    (asked,) = [message for message in looked["input"]["messages"] if message["role"] == "user"]
    text, link, picture = asked["content"]
    assert text == {"type": "text", "text": "Describe it."}
    assert link == {"type": "image", "mime_type": "image/png", "url": "https://example.com/cat.png"}
    assert (picture["type"], picture["mime_type"], picture["size_bytes"]) == ("image", "image/png", len(tiny_png()))
    assert picture["url"].startswith("data:image/png;base64,")
