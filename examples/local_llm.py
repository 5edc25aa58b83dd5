"""A tiny OpenAI-compatible chat server on 127.0.0.1, so examples run with no API key.

It answers ``POST /v1/chat/completions`` by rule, with token usage, enough to
drive a Dynamiq ReAct agent: while the conversation has no tool observation
it asks for the first tool it was offered, then it answers. The model name
``failing-model`` always gets HTTP 500, to show failures and retries.

    with LocalLLM() as llm:
        connection = dynamiq.connections.OpenAI(api_key="local", url=llm.url)
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAILING_MODEL = "failing-model"
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
    elif "2 + 2" in question or "2+2" in question or offered:
        reply = "4"
    else:
        reply = f"You said: {question[:80]}"
    return f"Thought: I know the answer.\nAnswer: {reply}" if offered else reply


class LocalLLM:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                outer.requests.append(body)
                outer.authorizations.append(self.headers.get("Authorization"))
                if latency:
                    time.sleep(latency)
                if body.get("model", "").endswith(FAILING_MODEL):
                    self._send(500, {"error": {"message": "the local model is down", "type": "server_error"}})
                    return
                content = answer_for(body.get("messages", []))
                prompt_tokens = sum(len(_text(m).split()) for m in body.get("messages", []))
                completion_tokens = len(content.split())
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-local-{len(outer.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "local"),
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                        ],
                        "usage": {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": completion_tokens,
                            "total_tokens": prompt_tokens + completion_tokens,
                        },
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self._server = Server((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> LocalLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
