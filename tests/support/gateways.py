"""What the gateway tests check again and again: an agent trace arrived whole, the gateway answers."""

from __future__ import annotations

import httpx

from otel_dynamiq.collector import LocalCollector
from tests.support.common import wait_for_runs


def assert_agent_trace(collector: LocalCollector, trace_hex: str, service: str) -> None:
    runs = {run["name"]: run for run in wait_for_runs(collector, 2) if run["trace_id"].replace("-", "") == trace_hex}
    assert set(runs) == {"agent run", "chat gpt-4o-mini"}
    root, chat = runs["agent run"], runs["chat gpt-4o-mini"]
    assert root["parent_run_id"] is None and chat["parent_run_id"] == root["id"]
    assert chat["metadata"]["node"] == {
        "name": "chat gpt-4o-mini",
        "group": "llms",
        "model": "gpt-4o-mini",
        "provider": "openai",
    }
    assert chat["metadata"]["usage"] == {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    assert chat["metadata"]["otel"]["resource"]["service.name"] == service


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
