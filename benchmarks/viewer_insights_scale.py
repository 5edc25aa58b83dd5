"""The viewer's sessions and overview over 100,000 traces and 1,000,000 runs, in Debian's Chromium.

A store is filled through ``RunStore.add`` (as the collector's requests fill it, 1,000 runs at a time):
100,000 traces of 10 runs, each a root naming its session (5,000 sessions of 20 turns, in 300 users) and
nine runs below it in their process's default session, three of them LLM calls with a model, tokens and
cost; failed roots now and then; starts spread over the last 30 days. Then:

- the store's own answers, in this process (median of 5): a page of sessions, a session and its turns,
  the overview of the last 24 hours and of all 30 days;
- the time to recount 10,000 trace summaries with the sessions' triggers, and without them: what keeping
  the sessions costs each request's traces;
- the collector started on the file (``otel-dynamiq collector --db``), and each page opened fresh three
  times: milliseconds from navigation to the page's own mark that it has drawn its data (``#/sessions``,
  ``#/session/<the latest>``, ``#/overview?range=24h``, ``#/overview?range=all``).

    .venv/bin/python benchmarks/viewer_insights_scale.py [--tiny]
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _support import free_port, machine, parser, table

from otel_dynamiq.collector import _insights
from otel_dynamiq.collector._store import RunStore, TraceFilter
from tests.support.browser import chromium

DAY_MS = 86_400_000
MODELS = (("gpt-4o", 5e-6), ("gpt-4o-mini", 6e-7), ("claude-3-5-sonnet", 9e-6), ("llama3", 0.0))
_WAIT_FOR_MARK = """async (name) => {
    while (!performance.getEntriesByName(name).length) await new Promise((done) => setTimeout(done, 5));
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
    return performance.getEntriesByName(name)[0].startTime;
}"""


def iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat()


def traces(count: int, per_session: int, now_ms: float) -> Iterator[list[dict[str, Any]]]:
    """One trace's runs at a time, oldest first."""
    chance = random.Random(29)
    defaults = [str(uuid.uuid4()) for _ in range(4)]  # four processes' default sessions
    for number in range(count):
        start = now_ms - 30 * DAY_MS + 30 * DAY_MS * number / count
        took = chance.lognormvariate(7, 0.6)
        trace_id, root_id = str(uuid.uuid4()), str(uuid.uuid4())
        session = number // per_session
        root = {
            "id": root_id,
            "name": "Chat turn",
            "type": "workflow",
            "trace_id": trace_id,
            "source_id": "benchmark",
            "session_id": f"session-{session:05d}",
            "start_time": iso(start),
            "end_time": iso(start + took),
            "parent_run_id": None,
            "status": "failed" if chance.random() < 0.05 else "succeeded",
            "input": {"input": f"question {number} about the weather in town {number % 97}"},
            "output": {"content": f"answer {number}: sunny"},
            "metadata": {"user_id": f"user-{session % 300}"},
            "error": None,
            "executions": [],
            "tags": ["benchmark"],
        }
        runs = [root]
        for child in range(1, 10):
            is_llm = child in (2, 5, 8)
            metadata: dict[str, Any] = {"node": {"group": "llms" if is_llm else "tools"}}
            if is_llm:
                model, price = MODELS[(number + child) % len(MODELS)]
                tokens = 100 + (number * child) % 400
                metadata["node"]["model"] = model
                metadata["usage"] = {
                    "prompt_tokens": tokens - 20,
                    "completion_tokens": 20,
                    "total_tokens": tokens,
                    "total_tokens_cost_usd": tokens * price,
                }
            begins = start + took * child / 11
            runs.append(
                {
                    **root,
                    "id": str(uuid.uuid4()),
                    "name": f"{'llm' if is_llm else 'tool'} {child}",
                    "type": "node",
                    "session_id": defaults[number % len(defaults)],
                    "start_time": iso(begins),
                    "end_time": iso(begins + took / 12),
                    "parent_run_id": root_id,
                    "status": "succeeded",
                    "input": {"a": child},
                    "output": {"b": child},
                    "metadata": metadata,
                    "tags": [],
                }
            )
        yield runs


def fill(path: str, count: int, per_session: int, now_ms: float) -> float:
    """The store filled as requests of 1,000 runs fill it; the seconds it took."""
    store = RunStore(path)
    began = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for runs in traces(count, per_session, now_ms):
        batch += runs
        if len(batch) >= 1000:
            store.add(batch, 0, None)
            batch = []
    if batch:
        store.add(batch, 0, None)
    store.close()  # counts the summaries still waiting for a reader
    return time.perf_counter() - began


def median_ms(call: Callable[[], Any], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def store_figures(path: str, now_ms: float) -> tuple[tuple[float, float], dict[str, float], tuple[float, float], str]:
    """Opening the file (and, of that, counting the sessions), the store's answers, and 10,000 summaries
    recounted with and without the sessions' triggers."""
    counting: list[float] = []
    count_sessions = _insights.open_sessions

    def timed(connection: sqlite3.Connection) -> None:
        began = time.perf_counter()
        count_sessions(connection)
        counting.append(time.perf_counter() - began)

    _insights.open_sessions = timed
    began = time.perf_counter()
    try:
        store = RunStore(path)
    finally:
        _insights.open_sessions = count_sessions
    opened = (time.perf_counter() - began, counting[0])
    try:
        latest = store.session_page(1)[0][0]["session_id"]
        answers = {
            "#/sessions": median_ms(lambda: store.session_page(50)),
            "#/session/<latest>": median_ms(lambda: (store.session(latest), store.turn_page(latest, 50))),
            "#/overview?range=24h": median_ms(lambda: store.overview(TraceFilter(now_ms - DAY_MS, now_ms))),
            "#/overview?range=all": median_ms(lambda: store.overview()),
        }
        connection = store._connection
        chosen = [trace_id for (trace_id,) in connection.execute("SELECT trace_id FROM traces LIMIT 10000")]
        recounts = []
        with store._lock:
            for keep_sessions in (True, False):
                if not keep_sessions:
                    for (name,) in connection.execute("SELECT name FROM sqlite_temp_master WHERE type = 'trigger'"):
                        connection.execute(f"DROP TRIGGER {name}")
                began = time.perf_counter()
                with connection:
                    store._refresh_traces(chosen)
                recounts.append(time.perf_counter() - began)
    finally:
        store.close()
    return opened, answers, (recounts[0], recounts[1]), latest


def browser_figures(url: str, pages: dict[str, str], repeat: int) -> dict[str, float]:
    """Median milliseconds from navigation to each page's mark that its data is drawn, fresh each time."""
    found: dict[str, list[float]] = {path: [] for path in pages}
    with chromium() as browser:
        for _ in range(repeat):
            for path, mark in pages.items():
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                page = context.new_page()
                page.goto(url + "/" + path)
                found[path].append(page.evaluate(_WAIT_FOR_MARK, mark))
                context.close()
    return {path: statistics.median(samples) for path, samples in found.items()}


def main() -> None:
    args = parser(__doc__).parse_args()
    count, per_session = (1000, 20) if args.tiny else (100_000, 20)
    repeat = 1 if args.tiny else 3
    now_ms = time.time() * 1000
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "runs.db")
        built = fill(path, count, per_session, now_ms)
        opened, answers, recounts, latest = store_figures(path, now_ms)
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "otel_dynamiq.cli", "collector", "--port", str(port), "--db", path],
            env={key: value for key, value in os.environ.items() if key != "OTEL_DYNAMIQ_COLLECTOR_ACCESS_KEY"},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        process.stdout.readline()  # listening
        try:
            shown = browser_figures(
                f"http://127.0.0.1:{port}",
                {
                    "#/sessions": "viewer:sessions-shown",
                    f"#/session/{latest}": "viewer:session-shown",
                    "#/overview?range=24h": "viewer:overview-shown",
                    "#/overview?range=all": "viewer:overview-shown",
                },
                repeat,
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
    rows = [
        [page, answers[page], shown[path]]
        for page, path in zip(answers, shown, strict=True)  # both in the same order
    ]
    sessions = count // per_session
    print(
        f"Viewer at scale: {count:,} traces, {count * 10:,} runs, {sessions:,} sessions over 30 days ({machine()},"
        f" load {os.getloadavg()[0]:.2f})"
    )
    print(table(["page", "store answer (ms, median of 5)", "first render in Chromium (ms)"], rows))
    print(
        f"filled through RunStore.add in {built:.1f} s ({count * 10 / built:,.0f} runs/s); opened in {opened[0]:.2f} s,"
        f" of which {opened[1] * 1000:.0f} ms counting the sessions"
    )
    print(
        f"recounting 10,000 trace summaries: {recounts[0] * 1000:.0f} ms keeping the sessions,"
        f" {recounts[1] * 1000:.0f} ms without"
    )


if __name__ == "__main__":
    main()
