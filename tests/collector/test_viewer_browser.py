"""The trace viewer in a real browser (Debian's Chromium, driven by Playwright): what a person sees.

The demo's own trace (a real Dynamiq agent run under `opentelemetry-instrument`) is
loaded into the collector, beside a failed trace, an LLM call with tool calls, a run
whose every field holds markup, and a keyed collector. Run with `make browser`; CI
does, after installing chromium. Screenshots land in `.cache/viewer/`.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from examples.demo import run_application
from examples.local_llm import LocalLLM
from otel_dynamiq.collector import LocalCollector
from tests.support.browser import chromium
from tests.support.common import FAKE_KEY
from tests.support.http import post
from tests.support.processes import ROOT, clean_env
from tests.support.runs import sample_run

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / ".cache" / "viewer"
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>&amp;'
FAILED_TRACE = "11111111-0000-4000-8000-000000000000"
TOOLS_TRACE = "22222222-0000-4000-8000-000000000000"
HOSTILE_TRACE = "33333333-0000-4000-8000-000000000000"
QUIRKS_TRACE = "0e0e0e0e-0000-4000-8000-000000000000"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PNG_URL = f"data:image/png;base64,{base64.b64encode(PNG).decode()}"
OMITTED = "data over the inline limit"
SVG_URL = "data:image/svg+xml;base64," + base64.b64encode(b"<svg onload='alert(1)'/>").decode()
BIDI_NAME = "\u202eMLL evil"  # reads "live LLM" where the control is obeyed
LONG_KEY = "a_metadata_key_that_goes_on_and_on_for_seventy_characters_or_so_in_all"
LONG_TAG = "a-tag-of-one-word-" * 20  # 360 characters and no space to wrap at
HIDDEN_NAME = "Zero\u200bwidth\U000e0041\U000e0042 \u2066isolated\u2069 \ufeffmarked\u00ad \u202eMLL evil\x07"
"""Invisible characters (a zero-width space, tag characters, isolates, a byte-order mark, a soft hyphen, a bell)
and an override: each must show as its code point."""
HIDDEN_SHOWN = (
    "Zero⟨U+200B⟩width⟨U+E0041⟩⟨U+E0042⟩ ⟨U+2066⟩isolated⟨U+2069⟩ ⟨U+FEFF⟩marked⟨U+00AD⟩ ⟨U+202E⟩MLL evil⟨U+0007⟩"
)
HIDDEN_TRACE = "0f0f0f0f-0000-4000-8000-000000000000"
TRACEBACK = 'Traceback (most recent call last):\n  File "tool.py", line 3, in run\n    return a / b\nZeroDivisionError'


def run_id(prefix: str, number: int) -> str:
    return f"{prefix}-0000-4000-8000-{number:012d}"


def at(second: float) -> str:
    return f"2026-01-01T00:00:{second:06.3f}+00:00"


def minute(number: int) -> str:
    """Whole minutes after 2026-01-01T00:00Z: starts far enough apart for a few hundred traces."""
    return f"2026-01-01T{number // 60:02d}:{number % 60:02d}:00+00:00"


def now() -> str:
    """A trace started now starts after every trace these tests make up: it heads the list."""
    return datetime.now(timezone.utc).isoformat()


@dataclass
class Site:
    collector: LocalCollector
    demo_trace: str

    @property
    def url(self) -> str:
        return self.collector.url


def failed_trace() -> list[dict[str, Any]]:
    root = sample_run(id=run_id("11111111", 1), trace_id=FAILED_TRACE, name="Divider flow", status="failed")
    tool = sample_run(
        id=run_id("11111111", 2),
        trace_id=FAILED_TRACE,
        parent_run_id=root["id"],
        name="divider",
        status="failed",
        start_time=at(0.2),
        end_time=at(0.4),
        input={"a": 1, "b": 0},
        metadata={"node": {"group": "tools", "name": "divider"}},
        error={"message": "division by zero", "type": "ZeroDivisionError", "traceback": TRACEBACK},
        executions=[
            {"id": run_id("11111111", 3), "start_time": at(0.2), "end_time": at(0.3), "status": "failed"},
            {"id": run_id("11111111", 4), "start_time": at(0.3), "end_time": at(0.4), "status": "failed"},
        ],
    )
    return [root, tool]


def tools_trace() -> list[dict[str, Any]]:
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup_weather", "arguments": '{"city": "Oslo"}'}}
    messages = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 degrees"},
    ]
    root = sample_run(id=run_id("22222222", 1), trace_id=TOOLS_TRACE, name="Weather agent")
    llm = sample_run(
        id=run_id("22222222", 2),
        trace_id=TOOLS_TRACE,
        parent_run_id=root["id"],
        name="Weather LLM",
        start_time=at(0.1),
        end_time=at(0.9),
        input={"messages": messages},
        output={"content": "It is sunny in Oslo.", "tool_calls": []},
        metadata={
            "node": {"group": "llms", "model": "gpt-4o", "provider": "openai"},
            "usage": {"prompt_tokens": 40, "completion_tokens": 8, "total_tokens": 48, "total_tokens_cost_usd": 0.0012},
        },
    )
    return [root, llm]


def hostile_trace() -> list[dict[str, Any]]:
    root = sample_run(id=run_id("33333333", 1), trace_id=HOSTILE_TRACE, name=HOSTILE, tags=[HOSTILE])
    child = sample_run(
        id=run_id("33333333", 2),
        trace_id=HOSTILE_TRACE,
        parent_run_id=root["id"],
        name=HOSTILE,
        status="failed",
        start_time=at(0.1),
        input={HOSTILE: HOSTILE, "messages": [{"role": HOSTILE, "content": HOSTILE}]},
        output=HOSTILE,
        metadata={"node": {"group": HOSTILE, "model": HOSTILE}, HOSTILE: [HOSTILE]},
        error={"message": HOSTILE, "type": HOSTILE, "traceback": HOSTILE},
        tags=[HOSTILE],
    )
    return [root, child]


def quirks_trace() -> list[dict[str, Any]]:
    """Runs that the viewer drew wrong: a group that reads as class names, a bidi control in a name, a skipped
    run, keys longer than the panel, a client's span whose usage is counted in its LLM node."""
    root = sample_run(id=run_id("0e0e0e0e", 1), trace_id=QUIRKS_TRACE, name="Quirks", end_time=at(1))
    child = {"trace_id": QUIRKS_TRACE, "parent_run_id": root["id"]}
    return [
        root,
        sample_run(
            id=run_id("0e0e0e0e", 2),
            name=BIDI_NAME,
            start_time=at(0.1),
            end_time=at(0.2),
            metadata={"node": {"group": "llms kind-failed"}},
            **child,
        ),
        sample_run(
            id=run_id("0e0e0e0e", 3),
            name="skipped step",
            status="skipped",
            start_time=at(0.2),
            end_time=at(0.2),
            metadata={"skip": {"failed_dependency": {"name": "Quirks"}}},
            **child,
        ),
        sample_run(
            id=run_id("0e0e0e0e", 4),
            name="long keys",
            start_time=at(0.3),
            end_time=at(0.4),
            metadata={LONG_KEY: "the value after the long key", run_id("0e0e0e0e", 9): "the value after a UUID"},
            tags=[LONG_TAG],
            **child,
        ),
        sample_run(
            id=run_id("0e0e0e0e", 5),
            name="LLM node",
            start_time=at(0.5),
            end_time=at(0.9),
            metadata={
                "node": {"group": "llms", "model": "gpt-4o"},
                "usage": {"total_tokens": 30, "prompt_tokens": 20, "completion_tokens": 10},
            },
            **child,
        ),
        sample_run(
            id=run_id("0e0e0e0e", 6),
            name="client call",
            start_time=at(0.6),
            end_time=at(0.8),
            trace_id=QUIRKS_TRACE,
            parent_run_id=run_id("0e0e0e0e", 5),
            metadata={
                "node": {"group": "llms", "model": "gpt-4o"},
                "otel": {
                    "usage": {"total_tokens": 30, "prompt_tokens": 20, "completion_tokens": 10},
                    "usage_counted_in": run_id("0e0e0e0e", 5),
                },
            },
        ),
        sample_run(
            id=run_id("0e0e0e0e", 7),
            name="looking agent",
            start_time=at(0.9),
            end_time=at(0.95),
            input={
                "input": "Describe it.",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "Describe it."},
                            {"type": "image", "mime_type": "image/png", "size_bytes": len(PNG), "url": PNG_URL},
                            {"type": "image", "mime_type": "image/svg+xml", "size_bytes": 40, "url": SVG_URL},
                            {
                                "type": "image",
                                "mime_type": "image/jpeg",
                                "size_bytes": 409_600,
                                "omitted": "data over the inline limit",
                            },
                        ],
                    }
                ],
            },
            output={"content": "A red pixel."},
            metadata={
                "node": {"group": "agents", "model": "gpt-4o"},
                "otel": {"usage": {"total_tokens": 30}, "usage_aggregate": True},
            },
            **child,
        ),
    ]


def hidden_trace() -> list[dict[str, Any]]:
    """Invisible and bidi characters in every kind of text a trace shows: its name, a run's name, a tag, a key,
    a value, a message."""
    root = sample_run(id=run_id("0f0f0f0f", 1), trace_id=HIDDEN_TRACE, name=HIDDEN_NAME, tags=[HIDDEN_NAME])
    child = sample_run(
        id=run_id("0f0f0f0f", 2),
        trace_id=HIDDEN_TRACE,
        parent_run_id=root["id"],
        name=HIDDEN_NAME,
        start_time=at(0.1),
        input={HIDDEN_NAME: HIDDEN_NAME, "messages": [{"role": "user", "content": HIDDEN_NAME}]},
        metadata={"node": {"group": HIDDEN_NAME}, HIDDEN_NAME: HIDDEN_NAME},
    )
    return [root, child]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    spool = str(tmp_path_factory.mktemp("spool"))
    with LocalLLM() as llm, LocalCollector() as collector:
        done = run_application(collector.url, llm.url, clean_env(OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR=spool))
        assert done.returncode == 0, done.stderr[-3000:]
        (demo,) = collector.store.traces()
        for runs in (failed_trace(), tools_trace(), hostile_trace(), quirks_trace(), hidden_trace()):
            assert post(collector.url, {"runs": runs})[0] == 200
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        yield Site(collector, demo["trace_id"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; a script error or a dialog in it fails the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    opened.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    yield opened
    context.close()
    assert problems == []


def open_trace(page: Page, site: Site, trace_id: str) -> None:
    """Until every page of its runs is drawn; a hash change keeps the page, so the marker names the trace."""
    page.goto(f"{site.url}/#/trace/{trace_id}")
    page.wait_for_function("(id) => document.body.dataset.loadedTrace === id", arg=trace_id)


def row(page: Page, name: str, nth: int = 0) -> Any:
    exactly = re.compile(f"^{re.escape(name)}$")
    return page.locator(".wf-row").filter(has=page.locator(".run-name", has_text=exactly)).nth(nth)


def usage_total(site: Site) -> int:
    """The demo's tokens, each LLM call once: the runs carrying ``metadata.usage``, none inside another.

    A run carrying usage under (or over) another that carries it would be the same call counted twice, so
    this fails rather than add both: a total the viewer shows can never agree with a double count.
    """
    runs = {run["id"]: run for run in site.collector.store.runs(site.demo_trace)}
    carrying = {key: run for key, run in runs.items() if isinstance((run.get("metadata") or {}).get("usage"), dict)}
    assert carrying, "the demo's LLM calls carry metadata.usage"
    for run in carrying.values():
        parent = run.get("parent_run_id")
        while parent in runs:
            assert parent not in carrying, f"{run['name']!r} and its ancestor {runs[parent]['name']!r} both carry usage"
            parent = runs[parent].get("parent_run_id")
    return sum(int(run["metadata"]["usage"]["total_tokens"]) for run in carrying.values())


def test_the_list_shows_the_demo_trace_with_its_runs_and_tokens(site: Site, page: Page) -> None:
    page.goto(site.url + "/")
    line = page.locator(f'tr.trace-row[data-trace-id="{site.demo_trace}"]')
    expect(line.locator(".name a")).to_have_text("Workflow")
    expect(line.locator(".badge")).to_have_text("succeeded")
    expect(line.locator(".runs")).to_have_text(str(len(site.collector.store.runs(site.demo_trace))))
    # Latest start first: the demo ran just now, though posted first; the others share one start, so by trace id.
    ids = page.locator("tr.trace-row").evaluate_all("rows => rows.map(row => row.dataset.traceId)")
    assert ids.index(site.demo_trace) < ids.index(HOSTILE_TRACE) < ids.index(TOOLS_TRACE) < ids.index(FAILED_TRACE)
    line.locator(".name a").click()
    expect(page.locator(".totals h1")).to_have_text("Workflow")
    assert page.url.endswith(f"#/trace/{site.demo_trace}")


def test_the_timeline_nests_the_runs_and_draws_them_in_order_to_scale(site: Site, page: Page) -> None:
    open_trace(page, site, site.demo_trace)
    names = page.locator(".wf-row .run-name").all_inner_texts()
    assert names[:3] == ["Workflow", "Flow", "Math agent"]
    dynamiq_nodes = [name for name in names if name in ("Agent LLM", "calculator", "Polisher")]
    assert dynamiq_nodes == ["Agent LLM", "calculator", "Agent LLM", "Polisher"]
    indents = [
        row(page, name).locator(".wf-name").evaluate("e => parseFloat(e.style.paddingLeft)") for name in names[:3]
    ]
    assert indents[0] < indents[1] < indents[2]
    bars = {
        label: row(page, name, nth).locator(".wf-bar").bounding_box()
        for label, name, nth in [
            ("workflow", "Workflow", 0),
            ("first call", "Agent LLM", 0),
            ("calculator", "calculator", 0),
            ("second call", "Agent LLM", 1),
            ("polisher", "Polisher", 0),
        ]
    }
    starts = [bars[label]["x"] for label in ("first call", "calculator", "second call", "polisher")]
    assert starts == sorted(starts) and starts[0] < starts[-1]
    runs = {run["name"]: run for run in reversed(site.collector.store.runs(site.demo_trace))}

    def seconds(run: dict[str, Any]) -> float:
        start, end = (datetime.fromisoformat(run[field]) for field in ("start_time", "end_time"))
        return (end - start).total_seconds()

    # To scale: the workflow's bar is as much wider than the polisher's as it lasted longer (2 px rounding).
    share = seconds(runs["Polisher"]) / seconds(runs["Workflow"])
    assert bars["polisher"]["width"] == pytest.approx(max(2.0, bars["workflow"]["width"] * share), abs=2)


def test_an_llm_run_shows_its_conversation_usage_and_the_trace_totals(site: Site, page: Page) -> None:
    open_trace(page, site, site.demo_trace)
    expect(page.locator(".totals .failures .value")).to_have_text("0")
    row(page, "Polisher").click()
    chat = page.locator(".panel .chat")
    expect(chat.locator(".message.role-user")).to_have_text("userRephrase politely: 4")
    expect(chat.locator(".message.answer")).to_contain_text("Happy to help: the answer is 4.")
    polisher = next(run for run in site.collector.store.runs(site.demo_trace) if run["name"] == "Polisher")
    usage = polisher["metadata"]["usage"]
    expect(page.locator(".panel dd.total-tokens")).to_have_text(f"{usage['total_tokens']:,}")
    expect(page.locator(".panel dd.prompt-tokens")).to_have_text(f"{usage['prompt_tokens']:,}")
    expect(page.locator(".panel dd.model")).to_have_text(polisher["metadata"]["node"]["model"])
    assert page.url.endswith(f"/run/{polisher['id']}")  # a link to this run
    page.screenshot(path=str(SCREENSHOTS / "llm-run.png"))


def test_the_demo_tokens_count_each_llm_call_once_in_the_list_and_the_totals(site: Site, page: Page) -> None:
    total = usage_total(site)
    page.goto(site.url + "/")
    line = page.locator(f'tr.trace-row[data-trace-id="{site.demo_trace}"]')
    expect(line.locator(".tokens")).to_have_text(f"{total:,}")
    open_trace(page, site, site.demo_trace)
    expect(page.locator(".totals .tokens .value")).to_have_text(f"{total:,}")


def test_tool_calls_and_tool_results_show_in_the_chat(site: Site, page: Page) -> None:
    open_trace(page, site, TOOLS_TRACE)
    row(page, "Weather LLM").click()
    expect(page.locator(".panel .tool-call .tool-call-head")).to_contain_text("lookup_weather")
    expect(page.locator(".panel .tool-call dd")).to_have_text("Oslo")  # the arguments, parsed from JSON
    expect(page.locator(".panel .message.role-tool")).to_contain_text("Sunny, 21 degrees")
    expect(page.locator(".panel .message.role-tool .role")).to_contain_text("result of call_1")
    expect(page.locator(".panel dd.cost")).to_have_text("$0.00120")
    expect(page.locator(".totals .cost .value")).to_have_text("$0.00120")


def test_a_failed_run_shows_its_error_traceback_and_attempts(site: Site, page: Page) -> None:
    open_trace(page, site, FAILED_TRACE)
    expect(page.locator(".totals .failures .value")).to_have_text("2")
    expect(page.locator(".wf-row.failed")).to_have_count(2)
    row(page, "divider").click()
    error = page.locator(".panel .error-box")
    expect(error.locator(".error-message")).to_have_text("division by zero")
    expect(error.locator(".error-type")).to_have_text(" ZeroDivisionError")
    expect(error.locator(".traceback")).to_have_text(TRACEBACK)
    expect(page.locator(".panel h3", has_text="Executions (2 attempts)")).to_be_visible()
    expect(page.locator(".panel .io.input dd")).to_have_text(["1", "0"])
    page.screenshot(path=str(SCREENSHOTS / "failed-run.png"))


def test_filters_by_status_and_by_name_text(site: Site, page: Page) -> None:
    page.goto(site.url + "/")
    page.locator(f'tr.trace-row[data-trace-id="{site.demo_trace}"]').wait_for()
    page.select_option("select[name=status]", "failures")
    rows = page.locator("tr.trace-row")
    expect(rows).to_have_count(2)  # the divider's trace and the hostile one: each has a failed run
    assert set(rows.evaluate_all("rows => rows.map(row => row.dataset.traceId)")) == {FAILED_TRACE, HOSTILE_TRACE}
    assert "status=failures" in page.url
    page.select_option("select[name=status]", "")
    page.fill("input[name=q]", "calcul")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-trace-id", site.demo_trace)
    page.fill("input[name=q]", "no run has this name")
    expect(page.locator("td.empty")).to_have_text("No trace matches these filters.")


def test_a_new_trace_appears_without_reloading(site: Site, page: Page) -> None:
    page.goto(site.url + "/")
    page.locator("tr.trace-row").first.wait_for()
    page.evaluate("window.__samePage = true")
    trace = "44444444-0000-4000-8000-000000000000"
    late = sample_run(id=run_id("44444444", 1), trace_id=trace, name="Arrived later", start_time=now())
    assert post(site.url, {"runs": [late]})[0] == 200
    expect(page.locator("tr.trace-row").first.locator(".name a")).to_have_text("Arrived later", timeout=15_000)
    assert page.evaluate("window.__samePage") is True


def test_an_open_trace_draws_runs_that_arrive_later(site: Site, page: Page) -> None:
    trace = "77777777-0000-4000-8000-000000000000"
    root = sample_run(id=run_id("77777777", 1), trace_id=trace, name="Streaming root", status=None, end_time=None)
    assert post(site.url, {"runs": [root]})[0] == 200
    open_trace(page, site, trace)
    row(page, "Streaming root").click()
    expect(page.locator(".panel .run-head .badge.status-running")).to_have_text("running")
    child = sample_run(
        id=run_id("77777777", 2), trace_id=trace, parent_run_id=root["id"], name="Late child", start_time=at(0.5)
    )
    finished = root | {"status": "succeeded", "end_time": at(2)}
    assert post(site.url, {"runs": [child, finished]})[0] == 200
    expect(page.locator(".wf-row .run-name")).to_have_text(["Streaming root", "Late child"], timeout=15_000)
    expect(page.locator(".totals .runs .value")).to_have_text("2")
    expect(page.locator(".panel .run-head .badge.status-succeeded")).to_have_text("succeeded")  # the open run too


def test_markup_in_every_field_is_shown_as_text_and_never_run(site: Site, page: Page) -> None:
    page.goto(site.url + "/")
    expect(page.locator(f'tr.trace-row[data-trace-id="{HOSTILE_TRACE}"] .name a')).to_have_text(HOSTILE)
    open_trace(page, site, HOSTILE_TRACE)
    expect(page.locator(".totals h1")).to_have_text(HOSTILE)
    row(page, HOSTILE, 1).click()
    panel = page.locator(".panel")
    expect(panel.locator(".run-head h2")).to_have_text(HOSTILE)
    expect(panel.locator(".error-message")).to_have_text(HOSTILE)
    expect(panel.locator(".error-type")).to_have_text(f" {HOSTILE}")
    expect(panel.locator(".traceback")).to_have_text(HOSTILE)
    expect(panel.locator(".message .role").first).to_have_text(HOSTILE)
    expect(panel.locator(".tag").first).to_have_text(HOSTILE)
    panel.locator("summary", has_text="Metadata").click()
    panel.locator("summary", has_text="Raw run JSON").click()
    expect(panel.locator("pre.raw")).to_contain_text('"name": "<img src=x onerror=')
    # innerHTML anywhere would have made elements of the markup, whatever the page's policy then blocked.
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 1  # the viewer's own module
    assert page.evaluate("window.__pwned") is None


def test_with_a_key_the_browser_asks_for_it_and_then_shows_the_runs(browser: Browser) -> None:
    with LocalCollector(access_key=FAKE_KEY) as keyed:
        run = sample_run(name="Behind the key")
        assert post(keyed.url, {"runs": [run]}, {"Authorization": f"Bearer {FAKE_KEY}"})[0] == 200
        anonymous = browser.new_context()
        try:
            for path in ("/", "/viewer/api/traces"):
                answer = anonymous.request.get(keyed.url + path)
                assert answer.status == 401
                assert answer.headers["www-authenticate"].startswith("Basic ")  # the browser asks for the key
        finally:
            anonymous.close()
        context = browser.new_context(http_credentials={"username": "me", "password": FAKE_KEY})
        try:
            page = context.new_page()
            page.goto(keyed.url + "/")
            expect(page.locator("tr.trace-row .name a")).to_have_text("Behind the key")
        finally:
            context.close()


def test_a_4_mib_run_and_a_5000_run_trace_stay_usable(site: Site, page: Page) -> None:
    big_trace, wide_trace = "55555555-0000-4000-8000-000000000000", "66666666-0000-4000-8000-000000000000"
    text = "line of a long document\n" * ((4 << 20) // 24)
    big = sample_run(id=run_id("55555555", 1), trace_id=big_trace, name="Big output", output={"text": text})
    assert post(site.url, {"runs": [big]})[0] == 200
    open_trace(page, site, big_trace)
    row(page, "Big output").click()
    more = page.locator(".panel .io.output button.more")
    expect(more).to_have_text(f"show all ({len(text):,} characters)")
    more.click()
    assert page.locator(".panel .io.output pre.text").evaluate("e => e.textContent.length") == len(text)

    runs = [sample_run(id=run_id("66666666", 0), trace_id=wide_trace, name="Many", start_time=at(0), end_time=at(59))]
    runs += [
        sample_run(
            id=run_id("66666666", number),
            trace_id=wide_trace,
            parent_run_id=run_id("66666666", (number - 1) // 10),  # ten children each: a deep, wide tree
            name=f"step {number}",
            start_time=at(number / 100),
            end_time=at(number / 100 + 0.5),
        )
        for number in range(1, 5000)
    ]
    assert post(site.url, {"runs": runs})[0] == 200
    open_trace(page, site, wide_trace)
    expect(page.locator(".totals .runs .value")).to_have_text("5,000")
    assert page.locator(".wf-spacer").evaluate("e => e.style.height") == f"{5000 * 26}px"
    assert page.locator(".wf-row").count() < 200  # only the rows in view are drawn
    page.locator(".wf-scroll").evaluate("e => { e.scrollTop = e.scrollHeight; }")
    last = 0  # the tree is drawn depth first: the bottom row is the last child of the last child...
    while last * 10 + 10 < 5000:
        last = last * 10 + 10
    expect(page.locator(".wf-row").last.locator(".run-name")).to_have_text(f"step {last}")
    expect(row(page, f"step {last}")).to_be_in_viewport()


def test_screenshots_of_the_list_and_the_demo_trace(site: Site, page: Page) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(site.url + "/")
    page.locator(f'tr.trace-row[data-trace-id="{site.demo_trace}"]').wait_for()
    page.screenshot(path=str(SCREENSHOTS / "traces.png"))
    open_trace(page, site, site.demo_trace)
    row(page, "Agent LLM").click()
    expect(page.locator(".panel .chat")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "trace.png"))
    assert (SCREENSHOTS / "trace.png").stat().st_size > 10_000


def tiny_benchmark(name: str) -> str:
    """What ``benchmarks/<name>.py --tiny`` printed; it must succeed."""
    done = subprocess.run(
        [sys.executable, f"benchmarks/{name}.py", "--tiny"],
        env=clean_env(LITELLM_LOCAL_MODEL_COST_MAP="True"),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_render_benchmark_runs_at_a_tiny_size() -> None:
    assert "first rows" in tiny_benchmark("viewer_render")


def test_the_scale_benchmark_runs_at_a_tiny_size() -> None:
    assert "now/before" in tiny_benchmark("viewer_scale")


def test_a_run_holding_long_lists_draws_a_page_of_each_and_shows_more_on_demand(site: Site, page: Page) -> None:
    trace = "88888888-0000-4000-8000-000000000000"
    calls = [
        {"id": f"c{n}", "type": "function", "function": {"name": f"tool_{n}", "arguments": "{}"}} for n in range(20_000)
    ]
    chat = sample_run(
        id=run_id("88888888", 1),
        trace_id=trace,
        name="Long chat",
        input={"messages": [{"role": "user", "content": f"message {n}"} for n in range(40_000)]},
        output={"content": None, "tool_calls": calls},
        metadata={"node": {"group": "llms"}},
    )
    retried = sample_run(
        id=run_id("88888888", 2),
        trace_id=trace,
        name="Retried often",
        start_time=at(0.5),
        executions=[
            {"id": run_id("88888889", n), "start_time": at(0.5), "end_time": at(0.6), "status": "failed"}
            for n in range(15_000)
        ],
        tags=[f"tag {n}" for n in range(100_000)],
    )
    assert post(site.url, {"runs": [chat, retried]})[0] == 200
    open_trace(page, site, trace)
    row(page, "Long chat").click()
    messages = page.locator(".panel .messages > .message")
    expect(messages).to_have_count(100)
    expect(page.locator(".panel .tool-calls > .tool-call")).to_have_count(100)
    more = page.locator(".panel .chat > button.more").first
    expect(more).to_have_text("show 100 more of 39,900")
    more.click()
    expect(messages).to_have_count(200)
    expect(messages.nth(199)).to_contain_text("message 199")
    row(page, "Retried often").click()
    expect(page.locator(".panel h3", has_text="Executions (15000 attempts)")).to_be_visible()
    expect(page.locator(".panel table.executions tbody tr")).to_have_count(100)
    expect(page.locator(".panel .tags .tag")).to_have_count(100)
    expect(page.locator(".panel .section button.more", has_text="of 99,900")).to_be_visible()


def test_a_big_open_trace_updates_live_by_fetching_only_what_changed(site: Site, page: Page) -> None:
    """A trace of more runs than one page: a live update keeps the scroll position and the chosen run."""
    trace = "99999999-0000-4000-8000-000000000000"
    root = sample_run(id=run_id("99999999", 0), trace_id=trace, name="Big root", start_time=at(0), end_time=at(59))
    runs = [root] + [
        sample_run(
            id=run_id("99999999", n),
            trace_id=trace,
            parent_run_id=root["id"],
            name=f"part {n}",
            start_time=at(n / 100),
            end_time=at(n / 100 + 0.2),
        )
        for n in range(1, 2500)
    ]
    assert post(site.url, {"runs": runs})[0] == 200
    open_trace(page, site, trace)
    page.locator(".wf-scroll").evaluate("e => { e.scrollTop = 1500 * 26; }")
    row(page, "part 1510").click()
    scrolled = page.locator(".wf-scroll").evaluate("e => e.scrollTop")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/runs?" in request.url else None)
    late = sample_run(
        id=run_id("99999999", 9999), trace_id=trace, parent_run_id=root["id"], name="Late part", start_time=at(58)
    )
    renamed = runs[1510] | {"name": "part 1510, renamed", "status": "failed"}
    assert post(site.url, {"runs": [late, renamed]})[0] == 200
    expect(page.locator(".totals .runs .value")).to_have_text("2,501", timeout=15_000)
    expect(page.locator(".wf-row.selected .run-name")).to_have_text("part 1510, renamed")
    expect(page.locator(".panel .run-head h2")).to_have_text("part 1510, renamed")
    assert page.locator(".wf-scroll").evaluate("e => e.scrollTop") == scrolled
    assert asked and all("since=" in url for url in asked), asked
    page.locator(".wf-scroll").evaluate("e => { e.scrollTop = e.scrollHeight; }")
    expect(page.locator(".wf-row").last.locator(".run-name")).to_have_text("Late part")


def test_the_traces_list_keeps_every_row_shown_through_a_live_update(browser: Browser) -> None:
    with LocalCollector() as collector:
        runs = [
            sample_run(id=run_id("aaaaaaaa", n), trace_id=run_id("abababab", n), name=f"trace {n}") for n in range(320)
        ]
        for start in range(0, 320, 80):
            assert post(collector.url, {"runs": runs[start : start + 80]})[0] == 200
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(collector.url + "/")
            rows = page.locator("tr.trace-row")
            expect(rows).to_have_count(50)
            for shown in (100, 150, 200, 250):
                page.locator("button.more", has_text="load more").click()
                expect(rows).to_have_count(shown)
            assert post(collector.url, {"runs": [sample_run(name="Arrived later", start_time=now())]})[0] == 200
            expect(rows.first.locator(".name a")).to_have_text("Arrived later", timeout=15_000)
            expect(rows).to_have_count(250)  # as many as were shown, not the first page or 200
        finally:
            context.close()


def test_a_broken_link_shows_the_list_and_odd_runs_read_sensibly(site: Site, page: Page) -> None:
    page.goto(site.url + "/#/trace/%E0%A4%A")  # not valid percent-encoding: the page must not stop at Loading
    expect(page.locator(f'tr.trace-row[data-trace-id="{site.demo_trace}"]')).to_be_visible()
    trace = "bbbbbbbb-0000-4000-8000-000000000000"
    backwards = sample_run(id=run_id("bbbbbbbb", 1), trace_id=trace, name="Backwards", start_time=at(2), end_time=at(0))
    assert post(site.url, {"runs": [backwards]})[0] == 200
    open_trace(page, site, trace)
    expect(row(page, "Backwards").locator(".wf-dur")).to_have_text("ends before it starts")
    # The waterfall takes the keyboard: Tab to it through the header (back, session, download, copy), Enter opens
    # its first row.
    page.locator(".totals a.back").focus()
    for stop in (".totals a.session", ".totals a.download", ".totals button.copy", ".wf-scroll"):
        page.keyboard.press("Tab")
        expect(page.locator(stop)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".panel .run-head h2")).to_have_text("Backwards")


def test_a_narrow_window_puts_the_panel_below_and_long_groups_never_hide_the_name(browser: Browser, site: Site) -> None:
    trace = "cccccccc-0000-4000-8000-000000000000"
    grouped = sample_run(
        id=run_id("cccccccc", 1), trace_id=trace, name="Named run", metadata={"node": {"group": "g" * 300}}
    )
    assert post(site.url, {"runs": [grouped]})[0] == 200
    for width in (390, 1400):
        context = browser.new_context(viewport={"width": width, "height": 800})
        try:
            page = context.new_page()
            open_trace(page, site, trace)
            name = row(page, "Named run").locator(".run-name").bounding_box()
            assert name is not None and name["width"] >= 50, (width, name)
            if width == 390:
                row(page, "Named run").click()
                waterfall = page.locator(".waterfall").bounding_box()
                panel = page.locator(".panel").bounding_box()
                assert waterfall and panel and panel["y"] >= waterfall["y"] + waterfall["height"]
                assert panel["width"] > 300
                assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing sticks out
                page.screenshot(path=str(SCREENSHOTS / "narrow.png"), full_page=True)
        finally:
            context.close()


def test_an_open_trace_a_restarted_collector_no_longer_holds_says_so(browser: Browser) -> None:
    trace = "dddddddd-0000-4000-8000-000000000000"
    first = LocalCollector().start()
    port = int(first.url.rsplit(":", 1)[1])
    context = browser.new_context()
    stopped = False
    try:
        assert post(first.url, {"runs": [sample_run(trace_id=trace, name="Before the restart")]})[0] == 200
        page = context.new_page()
        page.goto(f"{first.url}/#/trace/{trace}")
        expect(row(page, "Before the restart")).to_be_visible()
        first.stop()
        stopped = True
        with LocalCollector(port=port) as second:  # in memory: it starts empty
            assert post(second.url, {"runs": [sample_run(name="Elsewhere")]})[0] == 200
            expect(page.locator(".totals .problem")).to_have_text(
                f"The collector no longer holds trace {trace}.", timeout=15_000
            )
            expect(page.locator(".wf-row")).to_have_count(0)
    finally:
        context.close()
        if not stopped:
            first.stop()


def test_a_runs_group_never_becomes_a_class_and_a_skipped_run_looks_skipped(site: Site, page: Page) -> None:
    open_trace(page, site, QUIRKS_TRACE)
    bar = row(page, "⟨U+202E⟩MLL evil").locator(".wf-bar")
    expect(bar).to_have_class("wf-bar kind-node")  # "llms kind-failed" painted this succeeded run red
    skipped = row(page, "skipped step")
    expect(skipped).to_have_class(re.compile(r"\bskipped\b"))
    expect(skipped.locator(".wf-bar")).to_have_class(re.compile(r"\bkind-skipped\b"))


def test_bidirectional_controls_in_run_data_are_shown_not_obeyed(site: Site, page: Page) -> None:
    open_trace(page, site, QUIRKS_TRACE)
    name = row(page, "⟨U+202E⟩MLL evil")
    expect(name).to_have_count(1)
    name.click()
    expect(page.locator(".panel .run-head h2")).to_have_text("⟨U+202E⟩MLL evil")
    assert "\u202e" not in page.locator("main").inner_text()


def test_the_arrow_keys_keep_working_after_a_click_and_fold_the_tree(site: Site, page: Page) -> None:
    open_trace(page, site, QUIRKS_TRACE)
    row(page, "Quirks").click()
    page.keyboard.press("ArrowDown")
    expect(page.locator(".wf-row.selected .run-name")).to_have_text("⟨U+202E⟩MLL evil")
    page.keyboard.press("End")
    expect(page.locator(".wf-row.selected .run-name")).to_have_text("looking agent")
    page.keyboard.press("ArrowUp")
    expect(page.locator(".wf-row.selected .run-name")).to_have_text("client call")
    page.keyboard.press("ArrowLeft")  # a leaf: to its parent
    expect(page.locator(".wf-row.selected .run-name")).to_have_text("LLM node")
    page.keyboard.press("ArrowLeft")  # a parent: folds it
    expect(row(page, "client call")).to_have_count(0)
    page.keyboard.press("ArrowRight")
    expect(row(page, "client call")).to_have_count(1)
    page.keyboard.press("Home")
    expect(page.locator(".wf-row.selected .run-name")).to_have_text("Quirks")


def test_a_long_key_leaves_its_value_in_the_panel(site: Site, page: Page) -> None:
    open_trace(page, site, QUIRKS_TRACE)
    row(page, "long keys").click()
    page.locator(".panel details.section > summary", has_text="Metadata").click()
    panel = page.locator(".panel").bounding_box()
    assert panel is not None
    for value in ("the value after the long key", "the value after a UUID"):
        shown = page.locator(".panel .kv dd", has_text=value).bounding_box()
        assert shown is not None and shown["width"] > 40, (value, shown)
        assert shown["x"] + shown["width"] <= panel["x"] + panel["width"] + 1, (value, shown, panel)


def test_a_call_whose_usage_is_counted_in_its_parent_says_so(site: Site, page: Page) -> None:
    open_trace(page, site, QUIRKS_TRACE)
    expect(page.locator(".totals .tokens .value")).to_have_text("30")  # once, in the LLM node
    row(page, "client call").click()
    note = page.locator(".panel .counted-elsewhere")
    expect(note).to_contain_text("30 tokens")
    expect(note).to_contain_text("counted once, in the run it was made in")
    expect(page.locator(".panel dd.total-tokens")).to_have_text("30")
    note.locator("a").click()
    expect(page.locator(".panel .run-head h2")).to_have_text("LLM node")


def test_an_agent_s_total_is_shown_not_counted_and_its_image_is_a_thumbnail(site: Site, page: Page) -> None:
    open_trace(page, site, QUIRKS_TRACE)
    expect(page.locator(".totals .tokens .value")).to_have_text("30")  # the agent's 30 are not added again
    row(page, "looking agent").click()
    expect(page.locator(".panel .counted-elsewhere.aggregate")).to_contain_text("the total of the model calls under it")
    expect(page.locator(".panel section h3").first).to_have_text("Agent")
    thumbnails = page.locator(".panel .part.media img.thumbnail")
    expect(thumbnails).to_have_count(1)  # the PNG; an SVG is never drawn, a described image has no data
    expect(thumbnails).to_have_attribute("src", PNG_URL)
    assert page.evaluate("() => document.querySelector('.panel img.thumbnail').naturalWidth") == 1
    labels = page.locator(".panel .part.media .media-label")
    expect(labels).to_have_text(
        ["[image] image/png 70 bytes", "[image] image/svg+xml 40 bytes", "[image] image/jpeg 409,600 bytes"]
    )
    expect(page.locator(".panel .media-omitted")).to_have_text(" (data over the inline limit)")


def test_on_a_phone_a_tapped_run_brings_its_panel_into_view(site: Site, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        narrow = context.new_page()
        narrow.goto(f"{site.url}/#/trace/{QUIRKS_TRACE}")
        narrow.wait_for_function("(id) => document.body.dataset.loadedTrace === id", arg=QUIRKS_TRACE)
        row(narrow, "client call").tap()
        expect(narrow.locator(".panel .run-head h2")).to_have_text("client call")
        panel_top = "document.querySelector('.panel').getBoundingClientRect().top"
        narrow.wait_for_function(f"() => {panel_top} >= -1 && {panel_top} < innerHeight / 2")
    finally:
        context.close()


@contextmanager
def viewer_of(browser: Browser, runs: list[dict[str, Any]], path: str = "/") -> Iterator[tuple[LocalCollector, Page]]:
    """A collector of its own holding ``runs``, and a page on its viewer at ``path`` (closed after)."""
    with LocalCollector() as collector:
        assert post(collector.url, {"runs": runs})[0] == 200
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        try:
            page = context.new_page()
            page.goto(collector.url + path)
            yield collector, page
        finally:
            context.close()


def batch(count: int) -> list[dict[str, Any]]:
    """``count`` traces in one request, their starts shuffled: the one named "started 007" started 7 minutes in."""
    starts = [(number * 37) % count for number in range(count)]  # 37 shares no factor with the counts used
    return [
        sample_run(
            id=run_id("abcdabcd", number),
            trace_id=run_id("dcbadcba", number),
            name=f"started {start:03d}",
            start_time=minute(start),
            end_time=minute(start + 1),
        )
        for number, start in enumerate(starts)
    ]


def names_started(first: int, last: int) -> list[str]:
    """The rows' names from the one started ``first`` minutes in down to ``last``: latest start first."""
    return [f"started {start:03d}" for start in range(first, last - 1, -1)]


def test_a_batch_of_traces_is_listed_by_start_and_back_after_load_more_restores_rows_and_scroll(
    browser: Browser,
) -> None:
    with viewer_of(browser, batch(200)) as (_, page):
        names = page.locator("tr.trace-row .name a")
        expect(names).to_have_count(50)
        assert names.all_inner_texts() == names_started(199, 150)  # one request's traces, by their start
        for shown in (100, 150):
            page.locator("button.more", has_text="load more").click()
            expect(names).to_have_count(shown)
        assert names.all_inner_texts() == names_started(199, 50)  # each page goes on where the last ended
        expect(page).to_have_url(re.compile(r"#/\?n=150$"))
        opened = page.locator("tr.trace-row").nth(120)
        opened.scroll_into_view_if_needed()
        scrolled = page.evaluate("scrollY")
        assert scrolled > 1000
        opened.locator(".name a").click()
        expect(page.locator(".totals h1")).to_have_text("started 079")
        page.go_back()
        expect(names).to_have_count(150)  # not the first 50 again
        page.wait_for_function("(y) => Math.abs(scrollY - y) <= 2", arg=scrolled)
        expect(page.locator("tr.trace-row.active .name a")).to_have_text("started 079")  # the row left from
        page.reload()  # the address alone is enough for the rows
        expect(names).to_have_count(150)


def test_the_traces_list_takes_the_keyboard_through_live_updates(browser: Browser) -> None:
    with viewer_of(browser, batch(60)) as (collector, page):
        expect(page.locator("tr.trace-row")).to_have_count(50)
        table = page.locator("table.traces")
        active = page.locator("tr.trace-row.active .name a")
        page.locator("input[name=q]").focus()
        page.keyboard.press("Tab")  # one stop for the whole table, not one per row
        expect(table).to_be_focused()
        page.keyboard.press("ArrowDown")
        expect(active).to_have_text("started 059")
        for key, name in (("ArrowDown", "started 058"), ("ArrowDown", "started 057"), ("End", "started 010")):
            page.keyboard.press(key)
            expect(active).to_have_text(name)
        page.keyboard.press("Home")
        page.keyboard.press("ArrowDown")
        expect(active).to_have_text("started 058")
        # What a screen reader is told: the table names its active row, and the row says it is selected.
        named = table.get_attribute("aria-activedescendant")
        assert named
        expect(page.locator(f"#{named}")).to_have_attribute("aria-selected", "true")
        expect(page.locator(f"#{named} .name a")).to_have_text("started 058")
        # A live update draws every row again: the focus and the active row stay.
        assert post(collector.url, {"runs": [sample_run(name="Arrived later", start_time=now())]})[0] == 200
        expect(page.locator("tr.trace-row").first.locator(".name a")).to_have_text("Arrived later", timeout=15_000)
        expect(table).to_be_focused()
        expect(active).to_have_text("started 058")
        page.keyboard.press("ArrowDown")
        expect(active).to_have_text("started 057")
        page.keyboard.press("Enter")
        expect(page.locator(".totals h1")).to_have_text("started 057")


def test_the_waterfall_keeps_the_keys_after_a_fold_is_clicked_and_names_its_selected_row(browser: Browser) -> None:
    trace = "abababab-0000-4000-8000-000000000000"
    root = sample_run(id=run_id("abababab", 1), trace_id=trace, name="Root", end_time=at(1))
    first = sample_run(id=run_id("abababab", 2), trace_id=trace, parent_run_id=root["id"], name="first child")
    runs = [
        root,
        first | {"start_time": at(0.1), "end_time": at(0.3)},
        sample_run(
            id=run_id("abababab", 3), trace_id=trace, parent_run_id=first["id"], name="grandchild", start_time=at(0.2)
        ),
        sample_run(
            id=run_id("abababab", 4), trace_id=trace, parent_run_id=root["id"], name="second child", start_time=at(0.4)
        ),
    ]
    with viewer_of(browser, runs, f"/#/trace/{trace}") as (_, page):
        page.wait_for_function("(id) => document.body.dataset.loadedTrace === id", arg=trace)
        selected = page.locator(".wf-row.selected .run-name")
        row(page, "first child").click()
        row(page, "first child").locator(".toggle").click()  # the row is drawn again, folded
        expect(row(page, "grandchild")).to_have_count(0)
        page.keyboard.press("ArrowDown")
        expect(selected).to_have_text("second child")
        scroller = page.locator(".wf-scroll")
        expect(scroller).to_be_focused()
        named = scroller.get_attribute("aria-activedescendant")
        assert named
        expect(page.locator(f"#{named}")).to_have_attribute("aria-selected", "true")
        expect(page.locator(f"#{named} .run-name")).to_have_text("second child")
        expect(row(page, "first child")).to_have_attribute("aria-expanded", "false")
        page.keyboard.press("ArrowUp")
        page.keyboard.press("ArrowRight")  # unfolds, by key this time
        expect(row(page, "grandchild")).to_have_count(1)
        page.keyboard.press("ArrowDown")
        expect(selected).to_have_text("grandchild")
        expect(page.locator(".panel .run-head h2")).to_have_text("grandchild")


def test_a_skipped_run_says_so_in_its_row_and_its_panel(site: Site, page: Page) -> None:
    open_trace(page, site, QUIRKS_TRACE)
    skipped = row(page, "skipped step")
    expect(skipped.locator(".badge.status-skipped")).to_have_text("skipped")  # in words, not only a colour
    skipped.click()
    note = page.locator(".panel .skipped-note")
    expect(note).to_contain_text("Skipped: this run did not execute")
    expect(note.locator(".skip-reason")).to_contain_text("Quirks")  # Dynamiq's reason, from metadata.skip
    expect(page.locator(".panel .run-head .badge.status-skipped")).to_have_text("skipped")
    row(page, "long keys").click()
    expect(page.locator(".panel .skipped-note")).to_have_count(0)


def test_a_long_tag_wraps_inside_the_panel(site: Site, page: Page) -> None:
    open_trace(page, site, QUIRKS_TRACE)
    row(page, "long keys").click()
    panel = page.locator(".panel").bounding_box()
    tag = page.locator(".panel .tag").bounding_box()
    assert panel is not None and tag is not None
    assert tag["x"] + tag["width"] <= panel["x"] + panel["width"], (tag, panel)
    expect(page.locator(".panel .tag")).to_have_text(LONG_TAG)


def test_no_text_of_a_run_ever_becomes_a_class_name(site: Site, page: Page) -> None:
    open_trace(page, site, HOSTILE_TRACE)
    row(page, HOSTILE, 1).click()
    expect(page.locator(".panel .message .role").first).to_have_text(HOSTILE)
    page.locator(".panel summary", has_text="Metadata").click()
    classes = page.evaluate("() => [...document.querySelectorAll('[class]')].flatMap(e => [...e.classList])")
    made_of_run_text = [name for name in set(classes) if re.search("pwned|img|script|onerror", name, re.IGNORECASE)]
    assert made_of_run_text == []
    expect(page.locator(".panel .message.role-other")).to_have_count(1)


def test_invisible_and_bidi_characters_show_as_code_points_in_the_list_the_tree_and_the_panel(
    site: Site, page: Page
) -> None:
    page.goto(site.url + "/")
    expect(page.locator(f'tr.trace-row[data-trace-id="{HIDDEN_TRACE}"] .name a')).to_have_text(HIDDEN_SHOWN)
    open_trace(page, site, HIDDEN_TRACE)
    expect(page.locator(".totals h1")).to_have_text(HIDDEN_SHOWN)
    child = row(page, HIDDEN_SHOWN, 1)
    expect(child.locator(".badge")).to_have_text(HIDDEN_SHOWN)  # the group
    expect(child).to_have_attribute("title", re.compile("^" + re.escape(HIDDEN_SHOWN)))
    child.click()
    panel = page.locator(".panel")
    expect(panel.locator(".run-head h2")).to_have_text(HIDDEN_SHOWN)
    expect(panel.locator(".message .text").first).to_have_text(HIDDEN_SHOWN)
    panel.locator("summary", has_text="Metadata").click()
    expect(panel.locator(".kv dt", has_text="isolated").first).to_have_text(HIDDEN_SHOWN)
    row(page, HIDDEN_SHOWN, 0).click()
    expect(panel.locator(".tag")).to_have_text(HIDDEN_SHOWN)
    shown = page.locator("main").inner_text()
    hidden = [hex(ord(char)) for char in shown if unicodedata.category(char) in ("Cf", "Cc") and char not in "\t\n"]
    assert hidden == []


def priced(count: int) -> list[dict[str, Any]]:
    """``count`` traces, "priced NN" started NN minutes in; their costs in another order, every tenth unknown."""
    runs = []
    for number in range(count):
        usage = {"total_tokens": (number * 13) % count, "total_tokens_cost_usd": ((number * 17) % count) / 1000}
        runs.append(
            sample_run(
                id=run_id("cdcdcdcd", number),
                trace_id=run_id("edededed", number),
                name=f"priced {number:02d}",
                start_time=minute(number),
                end_time=minute(number).replace(":00+", f":{(number * 7) % count % 60:02d}+"),
                metadata={} if number % 10 == 9 else {"node": {"group": "llms"}, "usage": usage},
            )
        )
    return runs


def by_cost(count: int, descending: bool) -> list[str]:
    """The names in cost order, the traces without a cost last (by trace id, in the same direction)."""
    known = sorted((n for n in range(count) if n % 10 != 9), key=lambda n: ((n * 17) % count, n), reverse=descending)
    unknown = sorted((n for n in range(count) if n % 10 == 9), reverse=descending)
    return [f"priced {number:02d}" for number in known + unknown]


def test_a_header_sorts_the_list_by_cost_the_address_keeps_it_and_back_restores_each_order(
    browser: Browser,
) -> None:
    with viewer_of(browser, priced(60)) as (collector, page):
        names = page.locator("tr.trace-row .name a")
        expect(names).to_have_count(50)
        start, cost = page.locator("th[data-sort=start]"), page.locator("th[data-sort=cost]")
        expect(start).to_have_attribute("aria-sort", "descending")
        # The cost column: dollars, and empty where no run said what it cost.
        expect(row_named(page, "priced 12").locator("td.cost")).to_have_text("$0.0240")  # 24 thousandths
        expect(row_named(page, "priced 53").locator("td.cost")).to_have_text("$0.00100")
        expect(row_named(page, "priced 19").locator("td.cost")).to_have_text("")
        cost.get_by_role("button", name="Cost").click()
        expect(page).to_have_url(re.compile(r"#/\?sort=cost&dir=desc$"))
        expect(names.first).to_have_text(by_cost(60, True)[0])
        assert names.all_inner_texts() == by_cost(60, True)[:50]
        expect(cost).to_have_attribute("aria-sort", "descending")
        expect(start).not_to_have_attribute("aria-sort", re.compile(".*"))
        cost.get_by_role("button").click()
        expect(page).to_have_url(re.compile(r"#/\?sort=cost&dir=asc$"))
        expect(cost).to_have_attribute("aria-sort", "ascending")
        expect(names.first).to_have_text(by_cost(60, False)[0])
        page.locator("button.more", has_text="load more").click()  # goes on in the same order
        expect(names).to_have_count(60)
        assert names.all_inner_texts() == by_cost(60, False)  # the unknown costs last
        expect(page).to_have_url(re.compile(r"#/\?sort=cost&dir=asc&n=60$"))
        names.nth(3).click()
        expect(page.locator(".totals h1")).to_have_text(by_cost(60, False)[3])
        page.go_back()  # from the trace: the list as it was left
        expect(names).to_have_count(60)
        assert names.all_inner_texts() == by_cost(60, False)
        page.go_back()  # the sort before: highest cost first
        expect(page).to_have_url(re.compile(r"#/\?sort=cost&dir=desc$"))
        expect(cost).to_have_attribute("aria-sort", "descending")
        expect(names.first).to_have_text(by_cost(60, True)[0])
        page.go_back()  # and the list by start
        expect(page).to_have_url(re.compile(r"/(#/)?$"))
        expect(start).to_have_attribute("aria-sort", "descending")
        expect(names.first).to_have_text("priced 59")
        shared = page.context.new_page()  # a link someone was sent
        shared.goto(collector.url + "/#/?sort=cost&dir=asc")
        expect(shared.locator("tr.trace-row .name a").first).to_have_text(by_cost(60, False)[0])
        expect(shared.locator("th[data-sort=cost]")).to_have_attribute("aria-sort", "ascending")


def row_named(page: Page, name: str) -> Any:
    return page.locator("tr.trace-row").filter(has=page.locator(".name a", has_text=re.compile(f"^{name}$")))


def test_the_keyboard_reaches_a_header_and_sorts_by_it(browser: Browser) -> None:
    with viewer_of(browser, priced(30)) as (_, page):
        names = page.locator("tr.trace-row .name a")
        expect(names).to_have_count(30)
        page.locator("table.traces").focus()
        page.keyboard.press("ArrowDown")  # a row is active: Enter on a header must still sort, not open it
        expect(page.locator("tr.trace-row.active .name a")).to_have_text("priced 29")
        for _ in range(4):  # Start, Duration, Runs, Tokens: each header's button is a stop
            page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Tokens")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"#/\?sort=tokens&dir=desc$"))
        expect(page.locator("th[data-sort=tokens]")).to_have_attribute("aria-sort", "descending")
        most = sorted((n for n in range(30) if n % 10 != 9), key=lambda n: ((n * 13) % 30, n), reverse=True)
        expect(names.first).to_have_text(f"priced {most[0]:02d}")
        page.keyboard.press("Space")
        expect(page).to_have_url(re.compile(r"#/\?sort=tokens&dir=asc$"))
        expect(names.first).to_have_text(f"priced {most[-1]:02d}")
        expect(page.get_by_role("button", name="Tokens")).to_be_focused()  # the focus stays on the header
        page.keyboard.press("ArrowDown")  # a header's keys are its own: no row moves
        expect(page.locator("tr.trace-row.active")).to_have_count(0)
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        expect(page.locator("table.traces")).to_be_focused()
        page.keyboard.press("ArrowDown")
        expect(page.locator("tr.trace-row.active .name a")).to_have_text(f"priced {most[-1]:02d}")
        expect(page.locator("table.traces")).to_have_attribute("aria-label", "traces, fewest tokens first")


EXTRAS_TRACE = "e1e1e1e1-0000-4000-8000-000000000000"
CALL_USAGE = {"total_tokens": 30, "prompt_tokens": 20, "completion_tokens": 10}


def extras_trace(session: str = "user-3") -> list[dict[str, Any]]:
    """A root in session ``session``, an LLM node counting a call's usage, the client's span of that call (its usage
    counted in the node), an agent whose usage is the total of calls below it, a skipped step; in start order."""
    trace = {"trace_id": EXTRAS_TRACE, "session_id": session}
    root = sample_run(id=run_id("e1e1e1e1", 1), name="Session root", end_time=at(2), **trace)
    node = sample_run(
        id=run_id("e1e1e1e1", 2),
        parent_run_id=root["id"],
        name="LLM node",
        start_time=at(0.1),
        end_time=at(0.8),
        metadata={"node": {"group": "llms", "model": "gpt-4o"}, "usage": CALL_USAGE},
        **trace,
    )
    call = sample_run(
        id=run_id("e1e1e1e1", 3),
        parent_run_id=node["id"],
        name="client call",
        start_time=at(0.2),
        end_time=at(0.7),
        metadata={"node": {"group": "llms"}, "otel": {"usage": CALL_USAGE, "usage_counted_in": node["id"]}},
        **trace,
    )
    agent = sample_run(
        id=run_id("e1e1e1e1", 4),
        parent_run_id=root["id"],
        name="agent",
        start_time=at(0.9),
        end_time=at(1.5),
        metadata={"node": {"group": "agents"}, "otel": {"usage": CALL_USAGE, "usage_aggregate": True}},
        **trace,
    )
    skipped = sample_run(
        id=run_id("e1e1e1e1", 5),
        parent_run_id=root["id"],
        name="skipped step",
        status="skipped",
        start_time=at(1.6),
        end_time=at(1.6),
        **trace,
    )
    return [root, node, call, agent, skipped]


def loaded(page: Page, trace_id: str) -> None:
    page.wait_for_function("(id) => document.body.dataset.loadedTrace === id", arg=trace_id)


def test_download_json_saves_the_trace_s_runs_in_start_order_as_posted(browser: Browser) -> None:
    runs = extras_trace()
    with viewer_of(browser, runs[::-1], f"/#/trace/{EXTRAS_TRACE}") as (_, page):  # posted last run first
        loaded(page, EXTRAS_TRACE)
        with page.expect_download() as started:
            page.get_by_role("link", name="Download JSON").click()
        download = started.value
        assert download.suggested_filename == f"trace-{EXTRAS_TRACE}.json"
        saved = json.loads(Path(download.path()).read_text())
        assert len(saved) == len(runs)
        assert [run["id"] for run in saved] == [run["id"] for run in runs]  # by start, not as posted
        assert saved == runs  # each run whole


def test_copy_buttons_copy_the_trace_run_parent_and_session_ids_and_say_so(browser: Browser) -> None:
    runs = extras_trace()
    with viewer_of(browser, runs, f"/#/trace/{EXTRAS_TRACE}") as (collector, page):
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=collector.url)
        loaded(page, EXTRAS_TRACE)
        page.get_by_role("button", name="copy trace id", exact=True).click()
        expect(page.locator(".totals .copy-status")).to_have_text("copied")
        assert page.evaluate("navigator.clipboard.readText()") == EXTRAS_TRACE
        expect(page.locator(".totals .copy-status")).to_have_text("")  # the feedback goes after a moment
        row(page, "client call").click()
        expect(page.locator(".panel .run-head h2")).to_have_text("client call")
        for label, value in (("run id", runs[2]["id"]), ("parent run id", runs[1]["id"]), ("session id", "user-3")):
            expect(page.locator(f".panel dd.{label.replace(' ', '-')} code")).to_have_text(value)
            button = page.locator(".panel").get_by_role("button", name=f"copy {label}", exact=True)
            button.focus()  # from the keyboard: a real button
            page.keyboard.press("Enter")
            expect(page.locator(f".panel dd.{label.replace(' ', '-')} .copy-status")).to_have_text("copied")
            assert page.evaluate("navigator.clipboard.readText()") == value, label
        row(page, "Session root").click()
        expect(page.locator(".panel dd.parent-run-id")).to_have_count(0)  # a root has no parent to copy


def test_a_run_counted_in_its_parent_or_adding_up_calls_below_says_so_in_its_row_and_panel(browser: Browser) -> None:
    runs = extras_trace()
    with viewer_of(browser, runs, f"/#/trace/{EXTRAS_TRACE}") as (collector, page):
        loaded(page, EXTRAS_TRACE)
        expect(page.locator(".totals .tokens .value")).to_have_text("30")  # the call once, in its node
        call = row(page, "client call")
        expect(call.locator(".usage-note")).to_have_text("usage in parent")
        expect(call.locator(".usage-note")).to_have_attribute("title", "usage counted in LLM node")
        expect(call.locator(".row-tokens")).to_have_count(0)  # no second count of its tokens
        expect(row(page, "LLM node").locator(".row-tokens")).to_have_text("30 tok")
        expect(row(page, "LLM node").locator(".usage-note")).to_have_count(0)
        expect(row(page, "agent").locator(".usage-note.aggregate")).to_have_text("usage of calls below")
        expect(row(page, "agent").locator(".row-tokens")).to_have_count(0)
        call.click()
        note = page.locator(".panel .counted-elsewhere")
        expect(note.locator("strong")).to_have_text("Usage counted in LLM node.")
        expect(page.locator(".panel dd.total-tokens")).to_have_text("30")
        expect(page.locator(".panel dd.total-tokens")).to_have_class(re.compile(r"\buncounted\b"))
        row(page, "agent").click()
        expect(page.locator(".panel .counted-elsewhere.aggregate strong")).to_have_text(
            "Usage: total of the calls below."
        )
        row(page, "client call").click()
        page.locator(".panel .counted-elsewhere").get_by_role("link", name="LLM node").click()
        expect(page.locator(".panel .run-head h2")).to_have_text("LLM node")
        expect(page.locator(".panel dd.total-tokens")).not_to_have_class(re.compile(r"\buncounted\b"))
        expect(page.locator(".panel .counted-elsewhere")).to_have_count(0)
        # Live: a call that arrives later is marked; the agent sent again without its total no longer is.
        download = page.get_by_role("link", name="Download JSON")
        download.focus()
        late = runs[2] | {"id": run_id("e1e1e1e1", 6), "name": "late call", "start_time": at(0.75)}
        assert post(collector.url, {"runs": [late]})[0] == 200
        expect(row(page, "late call").locator(".usage-note")).to_have_text("usage in parent", timeout=15_000)
        expect(download).to_be_focused()  # the header drawn again keeps the keyboard where it was
        # Sent again with nothing else changed (no count moves): the marker goes all the same.
        assert post(collector.url, {"runs": [runs[3] | {"metadata": {}}]})[0] == 200
        expect(row(page, "agent").locator(".usage-note")).to_have_count(0, timeout=15_000)
        expect(page.locator(".totals .tokens .value")).to_have_text("30")


def test_a_trace_links_to_its_session_and_shows_none_without_one(browser: Browser) -> None:
    odd = "a b/\u202ec"
    with viewer_of(browser, extras_trace(), f"/#/trace/{EXTRAS_TRACE}") as (collector, page):
        loaded(page, EXTRAS_TRACE)
        session = page.locator(".totals a.session")
        expect(session).to_have_text("session user-3")
        expect(session).to_have_attribute("href", "#/session/user-3")
        other, bare = "e2e2e2e2-0000-4000-8000-000000000000", "e3e3e3e3-0000-4000-8000-000000000000"
        assert post(collector.url, {"runs": [sample_run(trace_id=other, session_id=odd)]})[0] == 200
        page.goto(f"{collector.url}/#/trace/{other}")
        loaded(page, other)
        expect(session).to_have_text("session a b/⟨U+202E⟩c")  # shown, never obeyed
        expect(session).to_have_attribute("href", "#/session/a%20b%2F%E2%80%AEc")
        unsessioned = sample_run(id=run_id("e3e3e3e3", 1), trace_id=bare)
        del unsessioned["session_id"]
        collector.store.add([unsessioned], 0, None)  # a file another program wrote: the service needs one
        page.goto(f"{collector.url}/#/trace/{bare}")
        loaded(page, bare)
        expect(page.locator(".totals h1")).to_have_text("n")
        expect(session).to_have_count(0)


def luminance(css: str) -> float:
    """The relative luminance (WCAG) of a computed ``rgb(...)``/``rgba(...)`` colour."""
    red, green, blue = (int(part) / 255 for part in re.findall(r"[\d.]+", css)[:3])
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def colour(page: Page, selector: str, what: str = "color") -> str:
    return page.locator(selector).first.evaluate(f"(e) => getComputedStyle(e).{what}")


def test_the_viewer_follows_the_system_s_dark_or_light_scheme_with_readable_colours(browser: Browser) -> None:
    runs = extras_trace()
    chat = runs[1] | {
        "input": {"messages": [{"role": "user", "content": "Say 4"}]},
        "output": {"content": "4"},
        "metadata": runs[1]["metadata"] | {"answer": 4},
    }
    with LocalCollector() as collector:
        assert post(collector.url, {"runs": [*runs[:1], chat, *runs[2:]]})[0] == 200
        for scheme in ("dark", "light"):
            context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme)
            try:
                page = context.new_page()
                page.goto(f"{collector.url}/")
                expect(page.locator("tr.trace-row")).to_have_count(1)
                background = luminance(colour(page, "body", "backgroundColor"))
                assert background < 0.05 if scheme == "dark" else background > 0.85, (scheme, background)
                page.screenshot(path=str(SCREENSHOTS / f"traces-{scheme}.png"))
                open_trace_at(page, collector.url, EXTRAS_TRACE)
                row(page, "LLM node").click()
                page.locator(".panel summary", has_text="Metadata").click()
                expect(page.locator(".panel .message.role-user")).to_contain_text("Say 4")
                paper = colour(page, ".panel", "backgroundColor")
                assert (luminance(paper) < 0.05) == (scheme == "dark"), (scheme, paper)
                pairs = {
                    "text": (colour(page, ".totals h1"), paper, 7),
                    "muted": (colour(page, ".fact .label"), paper, 4.5),
                    "link": (colour(page, ".totals a.download"), paper, 4.5),
                    "badge": (
                        colour(page, ".badge.status-succeeded"),
                        colour(page, ".badge.status-succeeded", "backgroundColor"),
                        4.5,
                    ),
                    "json": (colour(page, ".panel .v-number"), paper, 4.5),
                    "chat": (
                        colour(page, ".panel .message.role-user .text"),
                        colour(page, ".panel .message.role-user", "backgroundColor"),
                        7,
                    ),
                    "bar": (colour(page, ".wf-bar.kind-llms", "backgroundColor"), paper, 3),
                    "skipped": (
                        colour(page, ".wf-row.skipped .badge.status-skipped"),
                        colour(page, ".wf-row.skipped .badge", "backgroundColor"),
                        4.5,
                    ),
                }
                for name, (ink, under, least) in pairs.items():
                    assert contrast(ink, under) >= least, (scheme, name, ink, under)
                page.screenshot(path=str(SCREENSHOTS / f"trace-{scheme}.png"))
            finally:
                context.close()


def open_trace_at(page: Page, url: str, trace_id: str, run: str | None = None) -> None:
    """``open_trace`` on a collector of a test's own; with ``run``, a link to that run."""
    page.goto(f"{url}/#/trace/{trace_id}" + (f"/run/{run}" if run else ""))
    loaded(page, trace_id)


ON_SCREEN = (
    "() => { const box = document.querySelector('.panel').getBoundingClientRect();"
    " return box.top >= -1 && (box.bottom <= innerHeight + 1 || box.top <= 1); }"
)
"""As much of the run's panel as fits is on screen: all of it, or from its top down."""


def test_at_390_px_a_clicked_run_or_a_linked_one_brings_its_panel_on_screen(browser: Browser) -> None:
    trace = "e4e4e4e4-0000-4000-8000-000000000000"
    root = sample_run(id=run_id("e4e4e4e4", 0), trace_id=trace, name="Phone root", end_time=at(50))
    runs = [root] + [
        sample_run(
            id=run_id("e4e4e4e4", number),
            trace_id=trace,
            parent_run_id=root["id"],
            name=f"step {number}",
            start_time=at(number / 10),
            end_time=at(number / 10 + 0.05),
            output={f"key {key}": "a value" for key in range(60 if number % 2 else 1)},  # odd: over a screen
        )
        for number in range(1, 41)
    ]
    with LocalCollector() as collector:
        assert post(collector.url, {"runs": runs})[0] == 200
        context = browser.new_context(viewport={"width": 390, "height": 844})
        try:
            page = context.new_page()
            open_trace_at(page, collector.url, trace)
            for name in ("step 2", "step 3"):  # a short panel, then a long one
                page.evaluate("scrollTo(0, 0)")
                row(page, name).click()
                expect(page.locator(".panel .run-head h2")).to_have_text(name)
                page.wait_for_function(ON_SCREEN)
            # A link to a run (someone sent it): the run's panel, not the top of the timeline.
            linked = context.new_page()
            open_trace_at(linked, collector.url, trace, run_id("e4e4e4e4", 31))
            expect(linked.locator(".panel .run-head h2")).to_have_text("step 31")
            linked.wait_for_function(ON_SCREEN)
            linked.screenshot(path=str(SCREENSHOTS / "narrow-linked-run.png"))
        finally:
            context.close()


SUPPORT = "support/42 ~ é"
"""A session id a link must encode: a slash, a tilde, a space and an accent."""
T0_MS = 1_767_225_600_000
"""2026-01-01T00:00Z, where ``minute(0)`` is."""


def turn_of(number: int, session: str, start: int, seconds: int = 2, **fields: Any) -> list[dict[str, Any]]:
    """Trace "turn N" in ``session``, started ``start`` minutes in and taking ``seconds``: its root asked
    "question N" and answered "answer N"; below it, one LLM call of 48 tokens and $0.0012 (in the exporter's
    default session, as a span without ``session.id`` is). ``model`` names the call's model; other fields go
    to the root (``status``, ``metadata``)."""
    model = fields.pop("model", "gpt-4o")
    started = minute(start)
    root = sample_run(
        id=run_id("5e5e5e5e", number * 10),
        trace_id=run_id("7e7e7e7e", number),
        name=f"turn {number}",
        type="workflow",
        session_id=session,
        start_time=started,
        end_time=started.replace(":00+", f":{seconds:02d}+"),
        input={"input": f"question {number}"},
        output={"content": f"answer {number}"},
        **fields,
    )
    call = sample_run(
        id=run_id("5e5e5e5e", number * 10 + 1),
        trace_id=root["trace_id"],
        parent_run_id=root["id"],
        name="chat",
        start_time=started,
        end_time=started.replace(":00+", ":01+"),
        metadata={
            "node": {"group": "llms", "model": model},
            "usage": {"total_tokens": 48, "total_tokens_cost_usd": 0.0012},
        },
    )
    return [root, call]


def sessions_data() -> list[dict[str, Any]]:
    """Three sessions: SUPPORT (turns at minutes 1, 5 and 9, the second failed), "chat-b" (one turn at 7, by
    alice) and "chat-c" (turns at 2 and 3)."""
    return [
        *turn_of(1, SUPPORT, 1),
        *turn_of(2, SUPPORT, 5, status="failed"),
        *turn_of(3, SUPPORT, 9),
        *turn_of(4, "chat-b", 7, metadata={"user_id": "alice"}),
        *turn_of(5, "chat-c", 2),
        *turn_of(6, "chat-c", 3),
    ]


def watch(page: Page) -> list[str]:
    """The page's script errors from now on: a test that reads them fails on any."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    return problems


def test_the_sessions_list_shows_each_session_with_its_totals_latest_activity_first(browser: Browser) -> None:
    with viewer_of(browser, sessions_data(), "/#/sessions") as (collector, page):
        problems = watch(page)
        page.reload()
        rows = page.locator("tr.session-row")
        expect(rows).to_have_count(3)
        assert rows.locator(".name a").all_inner_texts() == [SUPPORT, "chat-b", "chat-c"]  # by their last turn
        support = rows.first
        for cell, shown in {
            "turns": "3",
            "duration": "6.00 s",  # its three turns' durations added up
            "runs": "6",
            "tokens": "144",  # three calls of 48, each counted once
            "cost": "$0.00360",
            "failures": "1",
        }.items():
            expect(support.locator(f"td.{cell}")).to_have_text(shown)
        expect(rows.nth(2).locator("td.turns")).to_have_text("2")
        expect(page.locator("nav.views a", has_text="Sessions")).to_have_attribute("aria-current", "page")
        expect(page.locator(".range button", has_text="all")).to_have_attribute("aria-pressed", "true")
        # One user's sessions: the address keeps the choice.
        page.locator("select[name=user]").select_option("alice")
        expect(page).to_have_url(re.compile(r"#/sessions\?user=alice$"))
        expect(rows.locator(".name a")).to_have_text(["chat-b"])
        page.go_back()
        expect(rows).to_have_count(3)
        # A range in which no turn started shows none, and says so.
        page.locator(".range button", has_text="1 h").click()
        expect(page).to_have_url(re.compile(r"#/sessions\?range=1h$"))
        expect(page.locator("table.sessions td.empty")).to_have_text("No session has a turn in this range.")
        # A turn that starts now is in the last hour: the list follows without a reload.
        assert post(collector.url, {"runs": turn_of(7, "chat-now", 0)[:1]})[0] == 200
        fresh = sample_run(
            id=run_id("5e5e5e5e", 99),
            trace_id=run_id("7e7e7e7e", 99),
            session_id="chat-now",
            start_time=now(),
            end_time=None,
        )
        assert post(collector.url, {"runs": [fresh]})[0] == 200
        expect(rows.locator(".name a")).to_have_text(["chat-now"], timeout=15_000)
        expect(rows.first.locator("td.turns")).to_have_text("2")  # both of its turns, though one is older
        assert problems == []


def test_the_sessions_list_loads_more_where_the_last_page_ended(browser: Browser) -> None:
    runs = [run for number in range(60) for run in turn_of(number, f"chat-{number:02d}", number)[:1]]
    with viewer_of(browser, runs, "/#/sessions") as (_, page):
        names = page.locator("tr.session-row .name a")
        expect(names).to_have_count(50)
        expect(page.locator(".filters .count")).to_have_text("50 shown, more below")
        page.locator("button.more", has_text="load more").click()
        expect(names).to_have_count(60)
        assert names.all_inner_texts() == [f"chat-{number:02d}" for number in range(59, -1, -1)]
        expect(page.locator("button.more", has_text="load more")).to_be_hidden()


def test_a_session_lists_its_turns_in_order_with_totals_and_links_to_each_trace(browser: Browser) -> None:
    with viewer_of(browser, sessions_data(), "/#/sessions") as (_, page):
        problems = watch(page)
        page.locator("tr.session-row .name a", has_text=SUPPORT).click()
        expect(page).to_have_url(re.compile(r"#/session/support%2F42%20~%20%C3%A9$"))
        totals = page.locator(".totals")
        expect(totals.locator("h1")).to_have_text(f"Session {SUPPORT}")
        for fact, shown in {"turns": "3", "tokens": "144", "cost": "$0.00360", "failures": "1", "runs": "6"}.items():
            expect(totals.locator(f".fact.{fact} .value")).to_have_text(shown)
        turns = page.locator("tr.turn-row")
        expect(turns).to_have_count(3)
        assert turns.locator("td.number").all_inner_texts() == ["1", "2", "3"]  # the oldest first
        assert turns.locator(".name a").all_inner_texts() == ["turn 1", "turn 2", "turn 3"]
        expect(turns.nth(1).locator(".brief.input .text")).to_have_text("question 2")
        expect(turns.nth(1).locator(".brief.output .text")).to_have_text("answer 2")
        expect(turns.nth(1).locator(".badge")).to_have_text("failed")
        expect(turns.nth(1).locator("td.tokens")).to_have_text("48")
        expect(turns.nth(1).locator("td.duration")).to_have_text("2.00 s")
        expect(page.locator("nav.views a", has_text="Sessions")).to_have_attribute("aria-current", "true")
        turns.nth(1).locator(".name a").click()
        expect(page.locator(".totals h1")).to_have_text("turn 2")
        page.go_back()
        expect(turns.locator(".name a")).to_have_text(["turn 1", "turn 2", "turn 3"])
        page.goto(page.url.replace("support%2F42", "nobody"))
        expect(page.locator(".totals .problem")).to_have_text("The collector holds no session nobody ~ é.")
        assert [problem for problem in problems if "404" not in problem] == []  # the browser logs the 404 itself


def overview_data() -> list[dict[str, Any]]:
    """Minute 0: "turn 1" (1 s, two gpt-4o calls) and "turn 2" (3 s, failed, one call); minute 5: "turn 3"
    (2 s, a claude call). Every call 48 tokens and $0.0012."""
    first = turn_of(1, "s", 0, seconds=1)
    extra = {**first[1], "id": run_id("5e5e5e5e", 12)}
    return [
        *first,
        extra,
        *turn_of(2, "s", 0, seconds=3, status="failed"),
        *turn_of(3, "s", 5, seconds=2, model="claude-3-5-sonnet"),
    ]


def numbers(page: Page, chart: str, start_ms: int) -> Any:
    """One bucket's row in a chart's table of numbers, opened as a reader would."""
    figure = page.locator("figure.chart").filter(has=page.locator("h2", has_text=re.compile(f"^{chart}$")))
    details = figure.locator("details.numbers")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return figure.locator(f'tr[data-start="{start_ms}"]')


def test_the_overview_charts_a_known_range_and_tables_its_numbers(browser: Browser) -> None:
    hour = f"/#/overview?from={T0_MS}&to={T0_MS + 3_600_000}"
    with viewer_of(browser, overview_data(), hour) as (_, page):
        problems = watch(page)
        page.reload()
        facts = page.locator(".totals .facts")
        for fact, shown in {
            "traces": "3",
            "errors": "1",
            "p50": "2.00 s",
            "p95": "3.00 s",
            "tokens": "192",
            "cost": "$0.00480",
        }.items():
            expect(facts.locator(f".fact.{fact} .value")).to_have_text(shown)
        expect(page.locator(".range button[aria-pressed=true]")).to_have_count(1)  # the address's own range
        traces = page.locator("figure.chart", has=page.locator("h2", has_text="Traces and failures"))
        image = traces.locator("svg[role=img]")
        expect(image.locator("title").first).to_have_text("Traces and failures")
        expect(image.locator("rect.series-traces")).to_have_count(2)  # minutes 0 and 5
        expect(image.locator("rect.series-errors")).to_have_count(1)
        assert "60 buckets" in (image.locator("desc").text_content() or "")
        first, fifth = (
            numbers(page, "Traces and failures", T0_MS),
            numbers(page, "Traces and failures", T0_MS + 300_000),
        )
        expect(first.locator("td")).to_have_text(["2", "1"])
        expect(fifth.locator("td")).to_have_text(["1", "0"])
        expect(numbers(page, "Traces and failures", T0_MS + 60_000).locator("td")).to_have_text(["0", "0"])
        expect(numbers(page, "Duration, p50 and p95", T0_MS).locator("td")).to_have_text(["1.00 s", "3.00 s"])
        expect(numbers(page, "Duration, p50 and p95", T0_MS + 60_000).locator("td")).to_have_text(["–", "–"])
        expect(numbers(page, "Tokens", T0_MS).locator("td")).to_have_text(["144"])
        expect(numbers(page, "Cost", T0_MS + 300_000).locator("td")).to_have_text(["$0.0012"])
        models = page.locator("table.models tr.model-row")
        expect(models.locator("th")).to_have_text(["gpt-4o", "claude-3-5-sonnet"])  # most calls first
        expect(models.first.locator("td")).to_have_text(["3", "144", "$0.00360"])
        expect(models.nth(1).locator("td")).to_have_text(["1", "48", "$0.00120"])
        # Colours are the stylesheet's, by class: no mark carries its own, so a theme recolours them all.
        assert page.locator("svg [fill], svg [stroke], svg [style]").count() == 0
        page.evaluate("document.documentElement.style.setProperty('--accent', 'rgb(1, 2, 3)')")  # as a theme would
        expect(image.locator("rect.series-traces").first).to_have_css("fill", "rgb(1, 2, 3)")
        page.locator(".range button", has_text="all").click()
        expect(page).to_have_url(re.compile(r"#/overview\?range=all$"))
        expect(page.locator(".range button", has_text="all")).to_have_attribute("aria-pressed", "true")
        expect(facts.locator(".fact.traces .value")).to_have_text("3")
        page.locator(".range button", has_text="24 h").click()  # long ago: nothing in the last day
        expect(facts.locator(".fact.traces .value")).to_have_text("0")
        expect(page.locator("figure.chart.models .note")).to_have_text("No model call reported usage in this range.")
        assert problems == []


def test_the_header_links_take_the_keyboard_to_each_view(browser: Browser) -> None:
    with viewer_of(browser, sessions_data()) as (_, page):
        problems = watch(page)
        expect(page.locator("tr.trace-row")).to_have_count(6)
        nav = page.locator("nav.views")
        links = {name: nav.get_by_role("link", name=name) for name in ("Traces", "Sessions", "Overview")}
        expect(links["Traces"]).to_have_attribute("aria-current", "page")
        for _ in range(3):  # the collector's name, then Traces, then Sessions
            page.keyboard.press("Tab")
        expect(links["Sessions"]).to_be_focused()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"#/sessions$"))
        expect(page.locator("tr.session-row")).to_have_count(3)
        expect(links["Sessions"]).to_have_attribute("aria-current", "page")
        expect(links["Traces"]).not_to_have_attribute("aria-current", re.compile(".*"))
        page.keyboard.press("Tab")
        expect(links["Overview"]).to_be_focused()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"#/overview$"))
        expect(page.locator("figure.chart h2").first).to_have_text("Traces and failures")
        expect(links["Overview"]).to_have_attribute("aria-current", "page")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        expect(links["Traces"]).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("tr.trace-row")).to_have_count(6)
        expect(links["Traces"]).to_have_attribute("aria-current", "page")
        # A range chosen on one view goes along to the other.
        page.goto(page.url.split("#")[0] + "#/overview")
        page.locator(".range button", has_text="all").click()
        expect(links["Sessions"]).to_have_attribute("href", "#/sessions?range=all")
        links["Sessions"].focus()
        page.keyboard.press("Enter")
        expect(page.locator(".range button", has_text="all")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("tr.session-row")).to_have_count(3)
        assert problems == []


def test_the_insights_scale_benchmark_runs_at_a_tiny_size() -> None:
    assert "first render in Chromium" in tiny_benchmark("viewer_insights_scale")


def labelled_traces() -> list[dict[str, Any]]:
    """Five traces started minutes to a month ago, each with its model, provider, tag, session and user."""
    now_ = datetime.now(timezone.utc)
    runs = []
    for number, (name, minutes, model, provider, tag, session, user, status) in enumerate(
        [
            ("fresh", 5, "gpt-4o", "openai", "env:prod", "chat-1", "alice", "succeeded"),
            ("half hour", 40, "claude-3-5-sonnet", "anthropic", "env:dev", "chat-2", "bob", "failed"),
            ("morning", 180, "gpt-4o-mini", "openai", "env:prod", "chat-1", "carol", "succeeded"),
            ("monday", 3 * 1440, "llama3", "ollama", "env:staging", "chat-3", "alice", "succeeded"),
            ("last month", 30 * 1440, "gpt-4o", "openai", "env:prod", "chat-2", "dave", "failed"),
        ]
    ):
        start = now_ - timedelta(minutes=minutes)
        root = sample_run(
            id=run_id("f1f1f1f1", number),
            trace_id=run_id("f0f0f0f0", number),
            name=name,
            start_time=start.isoformat(),
            end_time=(start + timedelta(seconds=2)).isoformat(),
            session_id=session,
            tags=[tag],
            status=status,
            metadata={"user_id": user},
        )
        call = sample_run(
            id=run_id("f2f2f2f2", number),
            trace_id=root["trace_id"],
            parent_run_id=root["id"],
            name="llm call",
            session_id=session,
            start_time=(start + timedelta(seconds=1)).isoformat(),
            end_time=(start + timedelta(seconds=2)).isoformat(),
            metadata={"node": {"group": "llms", "model": model, "provider": provider}},
        )
        runs += [root, call]
    return runs


EVERY_LABELLED = ["fresh", "half hour", "morning", "monday", "last month"]


def shown(page: Page) -> Any:
    return expect(page.locator("tr.trace-row .name a"))


def test_each_filter_narrows_the_list_and_the_address_names_it(browser: Browser) -> None:
    with viewer_of(browser, labelled_traces()) as (_, page):
        shown(page).to_have_text(EVERY_LABELLED)
        expect(page.locator("select[name=model] option")).to_have_text(
            ["any model", "gpt-4o (2)", "claude-3-5-sonnet (1)", "gpt-4o-mini (1)", "llama3 (1)"]
        )
        expect(page.locator("button.clear-filters")).to_be_hidden()
        page.select_option("select[name=model]", "gpt-4o")
        shown(page).to_have_text(["fresh", "last month"])
        expect(page).to_have_url(re.compile(r"#/\?model=gpt-4o$"))
        page.select_option("select[name=status]", "failed")
        shown(page).to_have_text(["last month"])
        expect(page).to_have_url(re.compile(r"#/\?status=failed&model=gpt-4o$"))
        page.select_option("select[name=model]", "")
        page.select_option("select[name=status]", "")
        page.select_option("select[name=provider]", "openai")
        shown(page).to_have_text(["fresh", "morning", "last month"])
        page.select_option("select[name=provider]", "")
        page.select_option("select[name=tag]", "env:prod")
        shown(page).to_have_text(["fresh", "morning", "last month"])
        page.select_option("select[name=tag]", "env:staging")
        shown(page).to_have_text(["monday"])
        page.select_option("select[name=tag]", "")
        session = page.locator("input[name=session]")
        expect(page.locator("#session-values option")).to_have_count(3)  # the sessions offered as it is typed
        session.fill("chat-2")
        session.press("Enter")
        shown(page).to_have_text(["half hour", "last month"])
        expect(page).to_have_url(re.compile(r"#/\?session=chat-2$"))
        session.fill("")
        session.press("Enter")
        user = page.locator("input[name=user]")
        user.fill("alice")
        user.press("Enter")
        shown(page).to_have_text(["fresh", "monday"])
        user.fill("ali")  # exact values only: the search box finds fragments
        user.press("Enter")
        expect(page.locator("td.empty")).to_have_text("No trace matches these filters.")
        user.fill("")
        user.press("Enter")
        shown(page).to_have_text(EVERY_LABELLED)
        expect(page.locator("button.clear-filters")).to_be_hidden()


def test_a_time_range_is_a_preset_counted_back_from_now_or_a_custom_from_and_to(browser: Browser) -> None:
    with viewer_of(browser, labelled_traces()) as (_, page):
        shown(page).to_have_text(EVERY_LABELLED)
        for preset, names in (
            ("15m", ["fresh"]),
            ("1h", ["fresh", "half hour"]),
            ("24h", ["fresh", "half hour", "morning"]),
            ("7d", ["fresh", "half hour", "morning", "monday"]),
            ("", EVERY_LABELLED),
        ):
            page.select_option("select[name=range]", preset)
            shown(page).to_have_text(names)
            assert page.url.endswith(f"#/?range={preset}" if preset else "#/")  # relative: a shared link stays so
        page.select_option("select[name=range]", "custom")
        local = "(ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 16)"
        now_ms = datetime.now(timezone.utc).timestamp() * 1000
        page.locator("input[name=from]").fill(page.evaluate(local, now_ms - 4 * 86_400_000))
        shown(page).to_have_text(["fresh", "half hour", "morning", "monday"])
        page.locator("input[name=to]").fill(page.evaluate(local, now_ms - 2 * 3_600_000))
        shown(page).to_have_text(["morning", "monday"])
        expect(page).to_have_url(re.compile(r"#/\?from=\d{4}-\d\d-\d\dT\d\d%3A\d\dZ&to=\d{4}-\d\d-\d\dT\d\d%3A\d\dZ$"))
        page.select_option("select[name=range]", "1h")
        shown(page).to_have_text(["fresh", "half hour"])
        expect(page.locator(".custom-range")).to_be_hidden()
        page.select_option("select[name=range]", "custom")  # the preset's window becomes the custom one
        expect(page).to_have_url(re.compile(r"#/\?from=[^&]+$"))
        shown(page).to_have_text(["fresh", "half hour"])


def test_search_finds_by_model_session_user_tag_and_id_and_keeps_every_filter(browser: Browser) -> None:
    with viewer_of(browser, labelled_traces()) as (_, page):
        shown(page).to_have_text(EVERY_LABELLED)
        search = page.locator("input[name=q]")
        for query, names in (
            ("CLAUDE", ["half hour"]),  # a model, any case
            ("4o-mini", ["morning"]),
            ("chat-3", ["monday"]),  # a session
            ("dave", ["last month"]),  # a user
            ("staging", ["monday"]),  # a tag
            (run_id("f0f0f0f0", 2)[-5:], ["morning"]),  # a trace id's fragment
            (run_id("f2f2f2f2", 1), ["half hour"]),  # a run's whole id
            ("llm call", EVERY_LABELLED),  # a run's name
            ('"llm" OR x', []),  # quotes and OR are text
        ):
            search.fill(query)
            if names:
                shown(page).to_have_text(names)
            else:
                expect(page.locator("td.empty")).to_have_text("No trace matches these filters.")
        search.fill("gpt-4o")
        shown(page).to_have_text(["fresh", "morning", "last month"])
        page.select_option("select[name=status]", "failed")
        shown(page).to_have_text(["last month"])
        page.select_option("select[name=status]", "")
        page.select_option("select[name=range]", "24h")
        shown(page).to_have_text(["fresh", "morning"])
        expect(page).to_have_url(re.compile(r"#/\?q=gpt-4o&range=24h$"))


def test_back_and_a_shared_link_restore_every_filter_and_clear_filters_undoes_them(browser: Browser) -> None:
    with viewer_of(browser, labelled_traces()) as (collector, page):
        shown(page).to_have_text(EVERY_LABELLED)
        page.select_option("select[name=provider]", "openai")
        shown(page).to_have_text(["fresh", "morning", "last month"])
        page.select_option("select[name=range]", "24h")
        shown(page).to_have_text(["fresh", "morning"])
        page.locator("input[name=q]").fill("alice")
        shown(page).to_have_text(["fresh"])
        expect(page).to_have_url(re.compile(r"#/\?q=alice&range=24h&provider=openai$"))
        page.locator("button.clear-filters").click()
        shown(page).to_have_text(EVERY_LABELLED)
        expect(page).to_have_url(re.compile(r"/(#/)?$"))
        for control in ("select[name=provider]", "select[name=range]", "input[name=q]"):
            expect(page.locator(control)).to_have_value("")
        expect(page.locator("button.clear-filters")).to_be_hidden()
        page.go_back()  # each view a history entry: the filters before clearing, then each one before
        shown(page).to_have_text(["fresh"])
        expect(page.locator("input[name=q]")).to_have_value("alice")
        expect(page.locator("select[name=range]")).to_have_value("24h")
        expect(page.locator("select[name=provider]")).to_have_value("openai")
        page.go_back()
        shown(page).to_have_text(["fresh", "morning"])
        expect(page.locator("input[name=q]")).to_have_value("")
        page.go_back()
        shown(page).to_have_text(["fresh", "morning", "last month"])
        expect(page.locator("select[name=range]")).to_have_value("")
        page.go_back()
        shown(page).to_have_text(EVERY_LABELLED)
        shared = page.context.new_page()  # a link someone was sent: every filter and the sort
        shared.goto(collector.url + "/#/?status=succeeded&range=7d&tag=env%3Aprod&user=carol&session=chat-1&sort=runs")
        shown(shared).to_have_text(["morning"])
        expect(shared.locator("select[name=status]")).to_have_value("succeeded")
        expect(shared.locator("select[name=range]")).to_have_value("7d")
        expect(shared.locator("select[name=tag]")).to_have_value("env:prod")
        expect(shared.locator("input[name=user]")).to_have_value("carol")
        expect(shared.locator("input[name=session]")).to_have_value("chat-1")
        expect(shared.locator("th[data-sort=runs]")).to_have_attribute("aria-sort", "descending")
        shared.locator("button.clear-filters").click()  # the sort stays: two runs each, so by trace id
        shown(shared).to_have_text(EVERY_LABELLED[::-1])
        expect(shared).to_have_url(re.compile(r"#/\?sort=runs&dir=desc$"))


def test_a_range_the_traces_list_names_goes_along_to_the_sessions_and_the_overview(browser: Browser) -> None:
    # A custom range as the list writes it (UTC to the minute): minutes 4 to 8 hold SUPPORT's turn 2 and chat-b's.
    start, end = (minute(n).replace(":00+00:00", "Z") for n in (4, 8))
    with viewer_of(browser, sessions_data(), f"/#/?from={start}&to={end}") as (_, page):
        problems = watch(page)
        expect(page.locator("tr.trace-row")).to_have_count(2)
        page.locator("nav.views").get_by_role("link", name="Sessions").click()
        expect(page.locator("tr.session-row")).to_have_count(2)
        assert page.locator("tr.session-row .name a").all_inner_texts() == [SUPPORT, "chat-b"]  # by last activity
        expect(page.locator(".range button[disabled]")).to_have_attribute("aria-pressed", "true")  # the custom range
        page.locator("nav.views").get_by_role("link", name="Overview").click()
        expect(page.locator(".range button[disabled]")).to_have_attribute("aria-pressed", "true")
        # A preset the list offers means the same on the other views.
        page.goto(page.url.split("#")[0] + "#/?range=15m")
        page.locator("nav.views").get_by_role("link", name="Sessions").click()
        expect(page.locator(".range button", has_text="15 min")).to_have_attribute("aria-pressed", "true")
        # A status the list does not offer, typed into the address, is no filter rather than an error.
        page.goto(page.url.split("#")[0] + "#/?status=bogus")
        expect(page.locator("tr.trace-row")).to_have_count(6)
        assert problems == []


def test_a_range_picked_in_the_list_goes_along_to_the_header_s_links_and_leaves_with_any_time(
    browser: Browser,
) -> None:
    with viewer_of(browser, sessions_data()) as (_, page):
        problems = watch(page)
        expect(page.locator("tr.trace-row")).to_have_count(6)
        nav = page.locator("nav.views")
        page.select_option("select[name=range]", "1h")  # the list rewrites its own address: no hashchange
        expect(page).to_have_url(re.compile(r"#/\?range=1h$"))
        expect(nav.get_by_role("link", name="Overview")).to_have_attribute("href", "#/overview?range=1h")
        expect(nav.get_by_role("link", name="Sessions")).to_have_attribute("href", "#/sessions?range=1h")
        nav.get_by_role("link", name="Overview").click()
        expect(page.locator(".range button", has_text="1 h")).to_have_attribute("aria-pressed", "true")
        page.go_back()
        page.select_option("select[name=range]", "")  # any time: the links carry no range any more
        expect(page).to_have_url(re.compile(r"/(#/)?$"))
        expect(nav.get_by_role("link", name="Overview")).to_have_attribute("href", "#/overview")
        page.goto(page.url.split("#")[0] + "#/session/")  # a session link naming none: the list, at its address
        expect(page).to_have_url(re.compile(r"#/$"))
        expect(page.locator("tr.trace-row")).to_have_count(6)
        assert problems == []


UNBROKEN = "N" * 300
"""A name with nowhere to wrap; the list and the trace's title show what the store keeps of it, 200 characters."""
KEPT = UNBROKEN[:200]


def unbroken_trace() -> list[dict[str, Any]]:
    """A trace whose name, tag and session id are each one long word, and whose cost is a tenth of a micro-dollar."""
    root = sample_run(
        id=run_id("0b0b0b0b", 1),
        trace_id=run_id("0c0c0c0c", 1),
        name=UNBROKEN,
        type="workflow",
        session_id="S" * 300,
        tags=["T" * 200],
        start_time=minute(1),
        end_time=minute(2),
        metadata={
            "node": {"group": "llms"},
            "usage": {"total_tokens": 1, "total_tokens_cost_usd": 1e-7},
            "user_id": "U" * 300,
        },
    )
    blank = sample_run(
        id=run_id("0b0b0b0b", 2),
        trace_id=run_id("0c0c0c0c", 2),
        name=" \t\u00a0",
        start_time=minute(5),
        metadata={"node": {"group": "llms"}, "usage": {"total_tokens": 1, "total_tokens_cost_usd": 1e-300}},
    )
    return [root, *turn_of(2, "chat-b", 3), blank]


def test_one_long_word_in_a_name_tag_or_session_never_widens_a_page_and_tiny_costs_are_written_out(
    browser: Browser,
) -> None:
    with viewer_of(browser, unbroken_trace()) as (collector, page):
        problems = watch(page)

        def fits() -> None:
            assert page.evaluate("document.documentElement.scrollWidth") <= 1400

        expect(page.locator("tr.trace-row")).to_have_count(3)
        blank = page.locator("tr.trace-row").first  # a name of only blanks: none
        expect(blank.locator(".name a")).to_have_text("(unnamed)")
        expect(blank.locator("td.cost")).to_have_text("<$0.000000001")  # not a hundred zeros
        fits()
        expect(page.locator("th[data-sort=cost]")).to_be_in_viewport()
        expect(row_named(page, KEPT).locator("td.cost")).to_have_text("$0.000000100")  # not "$1.00e-7"
        row_named(page, KEPT).locator(".name a").click()
        expect(page.locator(".totals h1")).to_have_text(KEPT)
        fits()
        page.goto(collector.url + "/#/sessions")
        expect(page.locator("tr.session-row")).to_have_count(3)  # the blank trace's sample session too
        fits()
        page.goto(collector.url + "/#/session/" + "S" * 300)  # the whole id, as the run panel copies it
        expect(page.locator("tr.turn-row")).to_have_count(1)
        expect(page.locator(".fact.users .value")).to_have_text("U" * 200)
        fits()
        page.goto(collector.url + "/#/overview?range=all")
        expect(page.locator(".chart").first).to_be_visible()
        fits()
        assert problems == []


def test_at_390_px_the_sessions_a_session_and_the_overview_fit_the_screen(browser: Browser) -> None:
    with LocalCollector() as collector:
        assert post(collector.url, {"runs": sessions_data()})[0] == 200
        context = browser.new_context(viewport={"width": 390, "height": 844})
        try:
            page = context.new_page()
            problems = watch(page)
            for path, drawn in (
                ("/#/sessions?range=all", "tr.session-row"),
                (f"/#/session/{quote(SUPPORT, safe='')}", "tr.turn-row"),
                ("/#/overview?range=all", ".chart"),
                ("/#/", "tr.trace-row"),
            ):
                page.goto(collector.url + path)
                expect(page.locator(drawn).first).to_be_visible()
                widest = page.evaluate("document.documentElement.scrollWidth")
                assert widest <= 390, f"{path} is {widest} px wide"
            assert problems == []
        finally:
            context.close()
