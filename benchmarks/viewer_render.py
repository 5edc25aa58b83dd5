"""The trace viewer in Debian's Chromium: how soon a trace of 100 and of 5,000 runs shows, and a 4 MiB run.

The collector runs as ``otel-dynamiq collector`` in its own process; the page is
opened fresh (a new browser context) three times per size, and the page's own
marks are read:

- first paint: the browser's first contentful paint (the page's frame);
- first rows: the waterfall drawn from the first page of runs (up to 2,000);
- interactive: every page of runs fetched and drawn, the totals in place;
- run panel: a click on the last run until its panel is drawn (fetch included).

Then one run holding a 4 MiB output: click to panel, and "show all" to the whole text drawn; and runs
holding long lists (40,000 messages, 20,000 tool calls, 15,000 executions, 100,000 tags): click to panel.

    .venv/bin/python benchmarks/viewer_render.py [--tiny]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from _support import free_port, machine, parser, table

from tests.support.browser import chromium

_WAIT_FOR_MARK = """async (name) => {
    while (!performance.getEntriesByName(name).length) await new Promise((done) => setTimeout(done, 5));
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
}"""
_CLICK_TO_PANEL = """async (selector) => {
    performance.clearMarks("viewer:run-shown");
    const began = performance.now();
    document.querySelector(selector).click();
    while (!performance.getEntriesByName("viewer:run-shown").length) await new Promise((done) => setTimeout(done, 1));
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
    return performance.now() - began;
}"""


def at(milliseconds: float) -> str:
    seconds, rest = divmod(milliseconds / 1000, 60)
    return f"2026-01-01T00:{int(seconds):02d}:{rest:06.3f}+00:00"


def synthetic_trace(size: int) -> tuple[str, list[dict[str, Any]]]:
    """A tree ten wide at every level; every third run an LLM call with a conversation and usage."""
    trace_id = str(uuid.uuid4())
    ids = [str(uuid.uuid4()) for _ in range(size)]
    runs = []
    for index in range(size):
        is_llm = index % 3 == 1
        metadata: dict[str, Any] = {"node": {"group": "llms" if is_llm else "tools", "model": "gpt-4o-mini"}}
        if is_llm:
            metadata["usage"] = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
        runs.append(
            {
                "id": ids[index],
                "name": f"{'llm' if is_llm else 'tool'} {index}",
                "type": "workflow" if index == 0 else "node",
                "trace_id": trace_id,
                "source_id": "benchmark",
                "session_id": "benchmark",
                "start_time": at(index * 5),
                "end_time": at(size * 5 + 10 if index == 0 else index * 5 + 40),
                "parent_run_id": None if index == 0 else ids[(index - 1) // 10],
                "status": "succeeded",
                "input": {"messages": [{"role": "user", "content": f"question {index} " * 20}]} if is_llm else {"a": 1},
                "output": {"content": f"answer {index} " * 20} if is_llm else {"content": index},
                "metadata": metadata,
                "executions": [],
                "tags": [],
            }
        )
    return trace_id, runs


def long_lists(scale: float) -> tuple[str, dict[str, dict[str, Any]]]:
    """One run per long list the panel draws; each well under the 4 MiB cap."""
    trace_id, (template,) = synthetic_trace(1)
    template["trace_id"] = trace_id

    def count(number: int) -> int:
        return max(10, int(number * scale))

    def variant(name: str, **fields: Any) -> dict[str, Any]:
        return {**template, "id": str(uuid.uuid4()), "name": name, **fields}

    calls = [{"id": f"c{n}", "function": {"name": "f", "arguments": "{}"}} for n in range(count(20_000))]
    llm = {"node": {"group": "llms"}}
    execution = {"start_time": at(0), "end_time": at(1), "status": "failed", "error": {"message": "x"}}
    return trace_id, {
        "40,000 messages": variant(
            "messages",
            metadata=llm,
            input={"messages": [{"role": "user", "content": f"m{n}"} for n in range(count(40_000))]},
        ),
        "20,000 tool calls": variant("tool calls", metadata=llm, output={"content": None, "tool_calls": calls}),
        "15,000 executions": variant(
            "executions", executions=[{**execution, "id": str(uuid.uuid4())} for _ in range(count(15_000))]
        ),
        "100,000 tags": variant("tags", tags=[f"t{n}" for n in range(count(100_000))]),
    }


def post(port: int, runs: list[dict[str, Any]]) -> None:
    for start in range(0, len(runs), 1000):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/traces",
            data=json.dumps({"runs": runs[start : start + 1000]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 200


def main() -> None:
    args = parser(__doc__).parse_args()
    sizes = (20, 200) if args.tiny else (100, 5000)
    big_bytes = (64 << 10) if args.tiny else (4 << 20)
    repeats = 1 if args.tiny else 3
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_dynamiq.cli", "collector", "--port", str(port)],
        env={key: value for key, value in os.environ.items() if key != "OTEL_DYNAMIQ_COLLECTOR_ACCESS_KEY"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.readline()  # listening
    url = f"http://127.0.0.1:{port}"
    rows: list[list[Any]] = []
    try:
        traces = {}
        for size in sizes:
            traces[size], runs = synthetic_trace(size)
            post(port, runs)
        big_trace, (big,) = synthetic_trace(1)
        big["output"] = {"text": "a line of a long document\n" * (big_bytes // 26)}
        post(port, [big])
        lists_trace, lists = long_lists(0.01 if args.tiny else 1.0)
        for run in lists.values():
            post(port, [run])
        list_times: dict[str, float] = {}
        with chromium() as browser:
            for size in sizes:
                samples: dict[str, list[float]] = {"paint": [], "rows": [], "ready": [], "panel": []}
                for _ in range(repeats):
                    context = browser.new_context(viewport={"width": 1400, "height": 900})
                    page = context.new_page()
                    page.goto(f"{url}/#/trace/{traces[size]}")
                    page.evaluate(_WAIT_FOR_MARK, "viewer:trace-complete")
                    marks = page.evaluate(
                        """() => ({
                            paint: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN,
                            rows: performance.getEntriesByName("viewer:first-rows")[0].startTime,
                            ready: performance.getEntriesByName("viewer:trace-complete")[0].startTime,
                        })"""
                    )
                    page.locator(".wf-scroll").evaluate("e => { e.scrollTop = e.scrollHeight; }")
                    page.wait_for_timeout(100)
                    marks["panel"] = page.evaluate(_CLICK_TO_PANEL, ".wf-row:last-child")
                    for name, value in marks.items():
                        samples[name].append(value)
                    context.close()
                rows.append(
                    [
                        f"{size:,} runs",
                        *(statistics.median(samples[name]) for name in ("paint", "rows", "ready", "panel")),
                    ]
                )
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.goto(f"{url}/#/trace/{big_trace}")
            page.evaluate(_WAIT_FOR_MARK, "viewer:trace-complete")
            panel = page.evaluate(_CLICK_TO_PANEL, ".wf-row")
            show_all = page.evaluate(
                """async () => {
                    const began = performance.now();
                    document.querySelector(".panel .io.output button.more").click();
                    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
                    return performance.now() - began;
                }"""
            )
            context.close()
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.goto(f"{url}/#/trace/{lists_trace}")
            page.evaluate(_WAIT_FOR_MARK, "viewer:trace-complete")
            for label, run in lists.items():
                list_times[label] = page.evaluate(_CLICK_TO_PANEL, f'.wf-row[data-run-id="{run["id"]}"]')
            context.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
    assets = Path(__file__).resolve().parents[1] / "otel_dynamiq" / "collector" / "viewer"
    size_bytes = sum(path.stat().st_size for path in assets.iterdir())
    print(f"Trace viewer in Chromium, median of {repeats} fresh loads, milliseconds from navigation ({machine()})")
    print(table(["trace", "first paint", "first rows", "interactive", "click → run panel"], rows))
    print(f"a run of {big_bytes / (1 << 20):.2f} MiB: click → panel {panel:.0f} ms, show all → drawn {show_all:.0f} ms")
    print("runs with long lists, click → panel: " + ", ".join(f"{k} {v:.0f} ms" for k, v in list_times.items()))
    print(f"viewer assets: {size_bytes / 1024:.1f} KiB in {len(list(assets.iterdir()))} files, no build step")


if __name__ == "__main__":
    main()
