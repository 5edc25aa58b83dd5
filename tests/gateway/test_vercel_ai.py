"""The Vercel AI SDK (``ai`` with ``@ai-sdk/openai``), installed from npm and run for real, through the gateway.

``tests/node_sender/vercel_ai.mjs`` is a Node.js app with telemetry on and no
Dynamiq code: generateText (with and without a tool), streamText, embed,
embedMany and a failing call, each under a ``scenario <name>`` span, against
the local OpenAI-compatible server. Its spans go over OTLP/HTTP to the
gateway, which delivers runs to the local collector. Needs Node.js and npm:
marked ``fleet``, run by ``make fleet``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from otel_dynamiq.collector import LocalCollector
from otel_dynamiq.gateway import Gateway
from tests.support.common import runs_by_scenario, wait_for
from tests.support.dynamiq_apps import LocalLLM
from tests.support.processes import ROOT

pytestmark = pytest.mark.fleet

NODE_SENDER = ROOT / "tests" / "node_sender"
SCENARIOS = ("generate", "tool call", "stream", "embed", "embed many", "failing")


def install_node_sender() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "make fleet needs Node.js and npm"
    if not all((NODE_SENDER / "node_modules" / name).is_dir() for name in ("ai", "@ai-sdk/openai", "zod")):
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_SENDER, check=True, timeout=300)
    return node


@pytest.fixture(scope="module")
def llm() -> Iterator[LocalLLM]:
    with LocalLLM() as running:
        yield running


def vercel_runs(llm: LocalLLM, through: Gateway, collector: LocalCollector) -> dict[str, list[dict[str, Any]]]:
    """The runs under each scenario's span, by scenario."""
    done = subprocess.run(
        [install_node_sender(), "vercel_ai.mjs", llm.url, f"{through.http_url}/v1/traces"],
        cwd=NODE_SENDER,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    wait_for(lambda: any(run["name"] == "vercel app" for run in collector.store.runs()))
    return runs_by_scenario(collector.store.runs(), SCENARIOS)


def named(runs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return sorted((run for run in runs if run["name"] == name), key=lambda run: run["start_time"])


def counted(runs: list[dict[str, Any]]) -> tuple[int, int, int]:
    """The usage Dynamiq sums over these runs."""
    usages = [run["metadata"]["usage"] for run in runs if "usage" in run["metadata"]]
    return (
        sum(usage["prompt_tokens"] for usage in usages),
        sum(usage["completion_tokens"] for usage in usages),
        sum(usage["total_tokens"] for usage in usages),
    )


def node(run: dict[str, Any]) -> tuple[Any, ...]:
    details = run["metadata"]["node"]
    return details["group"], details.get("model"), details.get("provider")


def test_vercel_ai_sdk_calls_become_runs_counted_once(
    llm: LocalLLM,
    gateway: Gateway,
    collector_behind: LocalCollector,
) -> None:
    runs = vercel_runs(llm, gateway, collector_behind)

    # A plain call: the call and its provider request, both LLM runs; the usage counted once, in the call.
    (call,) = named(runs["generate"], "ai.generateText")
    (request,) = named(runs["generate"], "ai.generateText.doGenerate")
    assert request["parent_run_id"] == call["id"]
    for run in (call, request):
        assert node(run) == ("llms", "gpt-4o-mini", "openai")
        assert run["input"] == {
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}]
        }
        assert run["output"] == {"content": "4"}
    # Cache reads and reasoning under their one name each (the SDK reports 0 of each here).
    assert call["metadata"]["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 1,
        "total_tokens": 8,
        "cache_read_input_tokens": 0,
        "reasoning_output_tokens": 0,
    }
    assert "usage" not in request["metadata"]
    assert request["metadata"]["otel"]["usage"]["total_tokens"] == 8
    assert request["metadata"]["otel"]["usage_counted_in"] == call["id"]
    assert counted(runs["generate"]) == (7, 1, 8)

    # Two steps with a tool between: the call holds both steps' usage, each request its own, the tool a tool run.
    (call,) = named(runs["tool call"], "ai.generateText")
    first, second = named(runs["tool call"], "ai.generateText.doGenerate")
    (tool,) = named(runs["tool call"], "add")
    asked = {"id": "call_local_1", "type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 2}}}
    assert first["output"] == {"content": None, "tool_calls": [asked]}
    assert second["input"] == {
        "messages": [
            {"role": "user", "content": "add 2 and 2"},
            {"role": "assistant", "content": None, "tool_calls": [asked]},
            {"role": "tool", "content": "4", "tool_call_id": "call_local_1"},  # text, as the model reads it
        ]
    }
    assert second["output"] == {"content": "The tool says 4."}
    assert call["output"] == {"content": "The tool says 4."}
    assert (tool["metadata"]["node"]["group"], tool["input"], tool["output"]) == (
        "tools",
        {"a": 2, "b": 2},
        {"content": 4},
    )
    assert tool["parent_run_id"] == call["id"]
    assert counted(runs["tool call"]) == (4 + 5, 5 + 4, 18)  # the two requests' true usage, once

    (call,) = named(runs["stream"], "ai.streamText")
    (request,) = named(runs["stream"], "ai.streamText.doStream")
    assert node(call) == node(request) == ("llms", "gpt-4o-mini", "openai")
    assert request["input"] == {"messages": [{"role": "user", "content": "hello there"}]}
    assert call["output"] == request["output"] == {"content": "You said: hello there"}
    assert counted(runs["stream"]) == (2, 4, 6)

    (call,) = named(runs["embed"], "ai.embed")
    (request,) = named(runs["embed"], "ai.embed.doEmbed")
    for run in (call, request):
        assert node(run) == ("embedders", "text-embedding-3-small", "openai")
        assert run["input"] == {"query": "a b"}
        assert run["output"]["query"] == "a b" and len(run["output"]["embedding"]) == 8
    assert counted(runs["embed"]) == (2, 0, 2)

    (call,) = named(runs["embed many"], "ai.embedMany")
    assert call["input"] == {"documents": [{"content": "a b"}, {"content": "c d e"}]}
    assert [document["content"] for document in call["output"]["documents"]] == ["a b", "c d e"]
    assert all(len(document["embedding"]) == 8 for document in call["output"]["documents"])
    assert counted(runs["embed many"]) == (5, 0, 5)

    (call,) = named(runs["failing"], "ai.generateText")
    (request,) = named(runs["failing"], "ai.generateText.doGenerate")
    for run in (call, request):
        assert run["status"] == "failed"
        assert node(run) == ("llms", "failing-model", "openai")
        assert "the local model is down" in run["error"]["message"]
    assert counted(runs["failing"]) == (0, 0, 0)

    # Content that became a run field is not carried again (tool definitions stay: no run field holds them).
    consumed = ("ai.prompt", "ai.prompt.messages", "ai.response.text", "ai.response.toolCalls", "ai.model.id")
    consumed += ("ai.usage.inputTokens", "ai.value", "ai.values", "ai.embedding", "ai.embeddings", "ai.toolCall.args")
    for run in (run for scenario in runs.values() for run in scenario):
        leftover = set(run["metadata"].get("otel", {}).get("attributes", {})) & set(consumed)
        assert not leftover, (run["name"], leftover)
