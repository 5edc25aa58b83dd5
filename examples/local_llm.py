"""A tiny OpenAI-compatible server on 127.0.0.1, so examples and tests run with no API key.

It answers chat completions by rule, with token usage, enough to drive a
Dynamiq ReAct agent: while the conversation has no tool observation it asks
for the first tool it was offered, then it answers. It also does what the
OpenAI instrumentations must be tested against: streamed answers (with usage
when ``stream_options.include_usage`` asks for it), native tool calls when the
request offers ``tools``, and embeddings. The model name ``failing-model``
always gets HTTP 500, to show failures and retries.

    with LocalLLM() as llm:
        connection = dynamiq.connections.OpenAI(api_key="local", url=llm.url)
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

from examples.loopback import LoopbackServer, QuietHandler

FAILING_MODEL = "failing-model"
EMBEDDING_DIMENSIONS = 8
_TOOL_LIST = re.compile(r"Tool name from ONLY \[([^\]]+)\]")


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def answer_for(messages: list[dict[str, Any]]) -> str:
    """The reply a ReAct agent or a plain LLM node expects, decided from the conversation."""
    conversation = "\n".join(_text(message) for message in messages)
    exchanged = "\n".join(_text(message) for message in messages if message.get("role") != "system")
    offered = _TOOL_LIST.search(conversation)
    if offered and "Observation:" not in exchanged:
        tool = offered.group(1).split(",")[0].strip()
        return f'Thought: I should use {tool}.\nAction: {tool}\nAction Input: {{"a": 2, "b": 2}}'
    question = _text(messages[-1]) if messages else ""
    if "Rephrase politely:" in question:
        reply = f"Happy to help: the answer is {question.split(':', 1)[1].strip()}."
    elif messages and messages[-1].get("role") == "tool":
        reply = f"The tool says {question[:40]}."
    elif "2 + 2" in question or "2+2" in question or offered:
        reply = "4"
    else:
        reply = f"You said: {question[:80]}"
    return f"Thought: I know the answer.\nAnswer: {reply}" if offered else reply


def tool_call_for(request: dict[str, Any]) -> dict[str, Any] | None:
    """A native tool call for the first offered tool, until the conversation holds a tool's answer."""
    tools = request.get("tools") or []
    if not tools or any(message.get("role") == "tool" for message in request.get("messages", [])):
        return None
    name = tools[0].get("function", {}).get("name", "tool")
    return {"id": "call_local_1", "type": "function", "function": {"name": name, "arguments": '{"a": 2, "b": 2}'}}


def embedding_for(text: str, dimensions: int) -> list[float]:
    """The same text always gets the same vector, so retrieval tests can predict their order."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round(digest[index % len(digest)] / 255, 6) for index in range(dimensions)]


DETAILED_USAGE_MODEL = "o4-mini"
"""Answers with OpenAI's usage details too: cached and cache-written prompt tokens, reasoning tokens."""


def _usage(prompt_tokens: int, completion_tokens: int, model: object = None) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if model == DETAILED_USAGE_MODEL:
        usage["prompt_tokens_details"] = {"cached_tokens": 2, "cache_creation_input_tokens": 1}
        usage["completion_tokens_details"] = {"reasoning_tokens": 3}
    return usage


class LocalLLM(LoopbackServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.usages: list[dict[str, Any]] = []
        """Every usage this server answered with, in order: a trace's true total, to compare with what it shows."""
        self.authorizations: list[str | None] = []
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = json.loads(self.read_body() or b"{}")
                outer.requests.append(body)
                outer.authorizations.append(self.headers.get("Authorization"))
                if latency:
                    time.sleep(latency)
                if str(body.get("model", "")).endswith(FAILING_MODEL):
                    self._send(500, {"error": {"message": "the local model is down", "type": "server_error"}})
                elif self.path.rstrip("/").endswith("/embeddings"):
                    self._embeddings(body)
                elif body.get("stream"):
                    self._stream(body)
                else:
                    self._complete(body)

            def _complete(self, request: dict[str, Any]) -> None:
                messages = request.get("messages", [])
                tool_call = tool_call_for(request)
                content = None if tool_call else answer_for(messages)
                message: dict[str, Any] = {"role": "assistant", "content": content}
                if tool_call:
                    message["tool_calls"] = [tool_call]
                prompt_tokens = sum(len(_text(m).split()) for m in messages)
                completion_tokens = len((content or tool_call_text(tool_call)).split())
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-local-{len(outer.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": request.get("model", "local"),
                        "choices": [
                            {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_call else "stop"}
                        ],
                        "usage": outer._answered(_usage(prompt_tokens, completion_tokens, request.get("model"))),
                    },
                )

            def _stream(self, request: dict[str, Any]) -> None:
                """Server-sent events as OpenAI sends them: a role, the words, a finish, maybe usage, [DONE]."""
                messages = request.get("messages", [])
                content = answer_for(messages)
                words = content.split(" ")
                base = {
                    "id": f"chatcmpl-local-{len(outer.requests)}",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": request.get("model", "local"),
                }
                chunks: list[dict[str, Any]] = [
                    {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
                ]
                for index, word in enumerate(words):
                    piece = word if index == 0 else f" {word}"
                    chunks.append({**base, "choices": [{"index": 0, "delta": {"content": piece}}]})
                chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                if (request.get("stream_options") or {}).get("include_usage"):
                    prompt_tokens = sum(len(_text(m).split()) for m in messages)
                    usage = outer._answered(_usage(prompt_tokens, len(words), request.get("model")))
                    chunks.append({**base, "choices": [], "usage": usage})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for chunk in chunks:
                    self._write_chunk(f"data: {json.dumps(chunk)}\n\n".encode())
                self._write_chunk(b"data: [DONE]\n\n")
                self._write_chunk(b"")

            def _write_chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _embeddings(self, request: dict[str, Any]) -> None:
                texts = request.get("input", [])
                texts = [texts] if isinstance(texts, str) else list(texts)
                dimensions = int(request.get("dimensions") or EMBEDDING_DIMENSIONS)
                tokens = sum(len(str(text).split()) for text in texts)
                self._send(
                    200,
                    {
                        "object": "list",
                        "model": request.get("model", "local-embedding"),
                        "data": [
                            {"object": "embedding", "index": index, "embedding": embedding_for(str(text), dimensions)}
                            for index, text in enumerate(texts)
                        ],
                        "usage": outer._answered({"prompt_tokens": tokens, "total_tokens": tokens}),
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                self.answer(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})

        # A client that hangs up (a closed keep-alive connection) is not an error worth a traceback.
        super().__init__(Handler, port, host=host, quiet=True)

    def _answered(self, usage: dict[str, Any]) -> dict[str, Any]:
        self.usages.append(usage)
        return usage

    def answered_tokens(self) -> tuple[int, int]:
        """The prompt and completion tokens of every answer so far: what a trace of them must add up to."""
        return (
            sum(usage.get("prompt_tokens", 0) for usage in self.usages),
            sum(usage.get("completion_tokens", 0) for usage in self.usages),
        )

    @property
    def url(self) -> str:
        return f"{super().url}/v1"


def tool_call_text(tool_call: dict[str, Any] | None) -> str:
    return "" if tool_call is None else f"{tool_call['function']['name']} {tool_call['function']['arguments']}"
