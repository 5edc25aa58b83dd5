"""The Vercel AI SDK 7 (``ai@7`` with ``@ai-sdk/otel``), installed from npm and run for real, through the gateway.

Version 7 moved telemetry out of ``ai`` into integrations the app registers,
and by default they speak the GenAI semantic conventions, not ai 6's ``ai.*``
spans: one call is now an ``invoke_agent`` span holding the whole call's usage,
``step N`` spans, and a ``chat`` span per provider request holding that
request's usage. Shown naively, every token would count twice. The legacy
integration still emits ai 6's spans. ``tests/node_sender_ai7/agent_app.mjs``
runs the same scenarios (a call, a tool loop, a ToolLoopAgent, a stream,
structured output, an embedding, images as bytes and as a data URL, a failing
call) with either integration, each scenario under a ``scenario <name>`` span,
against the local OpenAI-compatible server; its spans go over OTLP/HTTP to the
gateway, which delivers runs to the local collector. The tests check what a
user sees there: every scenario's tokens counted once, agents as agents, tool
calls and their answers, images as typed parts, embedding inputs. Needs
Node.js and npm: marked ``fleet``, run by ``make fleet``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from otel_dynamiq import environment_variables as env
from otel_dynamiq.collector import LocalCollector
from otel_dynamiq.gateway import Gateway
from tests.support.common import runs_by_scenario, wait_for
from tests.support.dynamiq_apps import LocalLLM
from tests.support.processes import ROOT

pytestmark = pytest.mark.fleet

NODE_SENDER = ROOT / "tests" / "node_sender_ai7"
SCENARIOS = (
    "generate",
    "tool call",
    "agent",
    "stream",
    "structured output",
    "embed",
    "image bytes",
    "image data url",
    "failing",
)
MODES = ("modern", "legacy")
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
"""The 1x1 PNG (70 bytes) the app sends, as bytes and as a data URL."""
ASKED = {"id": "call_local_1", "type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 2}}}


def install_node_sender() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "make fleet needs Node.js and npm"
    wanted = ("ai", "@ai-sdk/openai", "@ai-sdk/otel", "@opentelemetry/exporter-trace-otlp-http", "zod")
    if not all((NODE_SENDER / "node_modules" / name).is_dir() for name in wanted):
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_SENDER, check=True, timeout=300)
    return node


@dataclass
class Traced:
    """One run of the app: its runs by scenario, the whole trace, and what the LLM answered."""

    mode: str
    by_scenario: dict[str, list[dict[str, Any]]]
    trace: list[dict[str, Any]]
    answered: tuple[int, int]
    """The prompt and completion tokens the local LLM answered with, all scenarios together."""
    answered_by_scenario: dict[str, tuple[int, int]]
    """The same per scenario, as the app read it from the HTTP responses."""


@dataclass
class Sent:
    """One run of a Node.js app through a gateway: what it printed, its trace's runs, what the LLM answered."""

    printed: list[str]
    """Its stdout's lines; the first is the trace id."""
    runs: list[dict[str, Any]]
    answered: tuple[int, int]


def send_through_gateway(script: str, *arguments: str, arrived: Callable[[list[dict[str, Any]]], bool]) -> Sent:
    """Run ``script`` against a fresh local LLM, gateway and collector until ``arrived`` holds of the runs."""
    node = install_node_sender()
    with LocalLLM() as llm, LocalCollector() as collector, pytest.MonkeyPatch.context() as patch:
        patch.setenv(env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT, collector.url)
        with Gateway(port=0, grpc_port=0) as gateway:
            done = subprocess.run(
                [node, script, llm.url, f"{gateway.http_url}/v1/traces", *arguments],
                cwd=NODE_SENDER,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            printed = done.stdout.strip().splitlines()
            wait_for(lambda: arrived(collector.store.runs()))
            runs = [run for run in collector.store.runs() if run["metadata"]["otel"]["trace_id"] == printed[0]]
        return Sent(printed, runs, llm.answered_tokens())


def run_app(mode: str) -> Traced:
    names = {"ai7 app", *(f"scenario {name}" for name in SCENARIOS)}
    sent = send_through_gateway("agent_app.mjs", mode, arrived=lambda runs: names <= {run["name"] for run in runs})
    by_app = {
        name: (usage["prompt_tokens"], usage["completion_tokens"])
        for name, usage in json.loads(sent.printed[1]).items()
    }
    grouped = runs_by_scenario(sent.runs, SCENARIOS)
    return Traced(mode, grouped, sent.runs, sent.answered, {name: by_app.get(name, (0, 0)) for name in SCENARIOS})


@pytest.fixture(scope="module")
def modern() -> Traced:
    return run_app("modern")


@pytest.fixture(scope="module")
def legacy() -> Traced:
    return run_app("legacy")


@pytest.fixture(params=MODES)
def traced(request: pytest.FixtureRequest) -> Traced:
    run: Traced = request.getfixturevalue(request.param)
    return run


def named(runs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return sorted((run for run in runs if run["name"] == name), key=lambda run: run["start_time"])


def counted(runs: list[dict[str, Any]]) -> tuple[int, int]:
    """The prompt and completion tokens Dynamiq sums over these runs."""
    usages = [run["metadata"]["usage"] for run in runs if "usage" in run["metadata"]]
    return sum(usage["prompt_tokens"] for usage in usages), sum(usage["completion_tokens"] for usage in usages)


def node(run: dict[str, Any]) -> tuple[Any, ...]:
    details = run["metadata"]["node"]
    return details["group"], details.get("model"), details.get("provider")


def llm_requests(traced: Traced, scenario: str) -> list[dict[str, Any]]:
    """The runs of the scenario's provider requests, in order."""
    name = "chat gpt-4o-mini" if traced.mode == "modern" else "ai.generateText.doGenerate"
    return named(traced.by_scenario[scenario], name)


def calls(traced: Traced, scenario: str) -> list[dict[str, Any]]:
    """The runs of the scenario's SDK calls (generateText and the like), around their requests."""
    name = "invoke_agent gpt-4o-mini" if traced.mode == "modern" else "ai.generateText"
    return named(traced.by_scenario[scenario], name)


def test_every_scenario_counts_the_tokens_the_llm_answered_once(traced: Traced) -> None:
    # The app's per-scenario reading of the responses is the LLM's own log, split by scenario.
    assert tuple(map(sum, zip(*traced.answered_by_scenario.values(), strict=True))) == traced.answered
    assert traced.answered_by_scenario["agent"] != (0, 0)
    for scenario in SCENARIOS:
        assert counted(traced.by_scenario[scenario]) == traced.answered_by_scenario[scenario], scenario
    # And nothing outside the scenarios adds any: the trace as a whole is the LLM's total.
    assert counted(traced.trace) == traced.answered


def test_modern_agents_steps_requests_and_tools(modern: Traced) -> None:
    runs = modern.by_scenario["agent"]
    (agent,) = named(runs, "invoke_agent gpt-4o-mini")
    assert agent["metadata"]["node"]["group"] == "agents"
    assert agent["input"]["messages"] == [
        {"role": "system", "content": "You add numbers with the add tool."},
        {"role": "user", "content": "add 2 and 2"},
    ]
    assert agent["output"]["content"] == "The tool says 4."
    # The agent's usage is the sum of its requests': shown, never counted again.
    assert "usage" not in agent["metadata"]
    otel = agent["metadata"]["otel"]
    assert (otel["usage"]["prompt_tokens"], otel["usage"]["completion_tokens"]) == modern.answered_by_scenario["agent"]
    assert otel["usage_aggregate"] is True

    first_step, second_step = named(runs, "step 1") + named(runs, "step 2")
    for step in (first_step, second_step):
        assert step["metadata"]["node"]["group"] == "agents"
        assert step["parent_run_id"] == agent["id"]
    first, second = llm_requests(modern, "agent")
    assert (first["parent_run_id"], second["parent_run_id"]) == (first_step["id"], second_step["id"])
    for request in (first, second):
        assert node(request) == ("llms", "gpt-4o-mini", "openai")
        assert request["metadata"]["usage"]["total_tokens"] > 0
        assert [offered["name"] for offered in request["input"]["tools"]] == ["add"]
    assert first["output"] == {"content": None, "tool_calls": [ASKED]}
    assert second["output"] == {"content": "The tool says 4."}
    (tool,) = named(runs, "add")
    assert tool["metadata"]["node"]["group"] == "tools"
    assert tool["parent_run_id"] == first_step["id"]
    assert tool["input"] == {"a": 2, "b": 2}

    # A plain call is an agent too, with the system prompt as a system message.
    (call,) = named(modern.by_scenario["generate"], "invoke_agent gpt-4o-mini")
    assert call["metadata"]["node"]["group"] == "agents"
    assert call["input"]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2 + 2?"},
    ]
    assert call["output"]["content"] == "4"
    assert "usage" not in call["metadata"] and call["metadata"]["otel"]["usage_aggregate"] is True
    (request,) = llm_requests(modern, "generate")
    assert "tools" not in request["input"]
    assert counted([request]) == modern.answered_by_scenario["generate"]

    (call,) = named(modern.by_scenario["stream"], "invoke_agent gpt-4o-mini")
    assert call["output"]["content"] == "You said: hello there"
    (call,) = named(modern.by_scenario["structured output"], "invoke_agent gpt-4o-mini")
    assert json.loads(call["output"]["content"]) == {"answer": 4, "reason": "two plus two"}

    failed = modern.by_scenario["failing"]
    assert {run["name"] for run in failed} == {"invoke_agent failing-model", "step 1", "chat failing-model"}
    for run in failed:
        assert run["status"] == "failed"
        assert "the local model is down" in run["error"]["message"]


def test_legacy_calls_hold_the_usage_and_requests_point_to_them(legacy: Traced) -> None:
    runs = legacy.by_scenario["agent"]
    (call,) = named(runs, "ai.generateText")
    assert node(call) == ("llms", "gpt-4o-mini", "openai")
    assert call["input"]["messages"][0] == {"role": "system", "content": "You add numbers with the add tool."}
    assert call["output"]["content"] == "The tool says 4."
    assert counted([call]) == legacy.answered_by_scenario["agent"]
    for request in llm_requests(legacy, "agent"):
        assert request["parent_run_id"] == call["id"]
        assert "usage" not in request["metadata"]
        assert request["metadata"]["otel"]["usage_counted_in"] == call["id"]
    (tool,) = named(runs, "add")
    assert (tool["metadata"]["node"]["group"], tool["input"]) == ("tools", {"a": 2, "b": 2})


@pytest.mark.parametrize("scenario", ["image bytes", "image data url"])
def test_images_are_typed_parts_kept_inline(traced: Traced, scenario: str) -> None:
    image = {"type": "image", "mime_type": "image/png", "size_bytes": 70, "url": f"data:image/png;base64,{PNG_B64}"}
    asked = [{"role": "user", "content": [{"type": "text", "text": "What is in this image?"}, image]}]
    (request,) = llm_requests(traced, scenario)
    assert request["input"]["messages"] == asked
    # The call around it (ai.prompt in legacy mode, with the bytes as a Uint8Array index map) says the same.
    (call,) = calls(traced, scenario)
    assert call["input"]["messages"] == asked


@pytest.mark.parametrize("scenario", ["tool call", "agent"])
def test_tool_answers_in_later_requests_are_tool_messages(traced: Traced, scenario: str) -> None:
    first, second = llm_requests(traced, scenario)
    assert all(message["role"] != "tool" for message in first["input"]["messages"])
    tool_messages = [message for message in second["input"]["messages"] if message["role"] == "tool"]
    assert tool_messages == [{"role": "tool", "content": "4", "tool_call_id": "call_local_1"}]
    assert {"role": "assistant", "content": None, "tool_calls": [ASKED]} in second["input"]["messages"]


def test_embedding_inputs_are_recorded(traced: Traced) -> None:
    runs = traced.by_scenario["embed"]
    assert len(runs) == 2  # the call and its provider request
    for run in runs:
        assert node(run) == ("embedders", "text-embedding-3-small", "openai")
        assert run["input"] == {"query": "a b"}
        assert run["output"]["query"] == "a b" and len(run["output"]["embedding"]) == 8


def test_a_14_mb_request_with_photos_is_taken_and_each_run_keeps_its_meaning() -> None:
    """The SDK writes a photo's bytes as a JSON map of numbers: three calls make one OTLP/JSON request of 14 MB.

    The gateway reads it (under its 16 MiB bound), the photo becomes a described part (over the inline
    limit), and every run keeps its group, usage and the shape of its input.
    """
    sent = send_through_gateway(
        "big_image.mjs", arrived=lambda runs: len([run for run in runs if run["name"] == "ai.generateText"]) == 3
    )
    assert json.loads(sent.printed[1]) == [0]  # one export, and it succeeded: nothing refused with 413
    runs, answered = sent.runs, sent.answered
    calls = named(runs, "ai.generateText")
    assert counted(runs) == answered
    for call in calls:
        assert node(call)[:2] == ("llms", "gpt-4o-mini")
        assert call["metadata"]["usage"]["total_tokens"] > 0
        (message,) = call["input"]["messages"]
        text, photo = message["content"]
        assert text == {"type": "text", "text": "Describe it."}
        assert photo == {
            "type": "image",
            "mime_type": "image/jpeg",
            "size_bytes": 300 * 1024,
            "omitted": "data over the inline limit",
        }
