"""A serverless function: the platform freezes the process as soon as the handler returns.

Nothing may be left for later then: no background flush, no exit hook. The
handler of docs/delivery.md flushes the provider before returning; the process
stops itself right after (``SIGSTOP``, as a frozen function), and the collector
must already hold every run of that invocation, the first one after start-up
included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from otel_dynamiq.collector import LocalCollector
from tests.support.processes import ROOT, clean_env

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="freezing a process needs SIGSTOP (POSIX)")


@pytest.fixture
def function(collector: LocalCollector) -> Iterator[subprocess.Popen[str]]:
    environment = clean_env(OTEL_EXPORTER_DYNAMIQ_ENDPOINT=collector.url, OTEL_SERVICE_NAME="function")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "apps" / "serverless.py"), "2"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        yield process
    finally:
        process.kill()  # a frozen process takes SIGKILL too, as a platform reclaims it
        process.communicate(timeout=30)


def returned(process: subprocess.Popen[str]) -> str:
    """The invocation's line, once the function is frozen (stopped, not merely about to be)."""
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line, process.communicate(timeout=30)[1] if process.poll() is not None else "no output"
    _, status = os.waitpid(process.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), status
    return line


def invocations(collector: LocalCollector) -> list[tuple[str, str]]:
    runs = collector.store.runs()
    by_id = {run["id"]: run for run in runs}
    return sorted(
        (run["name"], by_id[run["parent_run_id"]]["name"] if run["parent_run_id"] in by_id else "") for run in runs
    )


def test_every_run_is_stored_when_the_handler_returns(
    function: subprocess.Popen[str], collector: LocalCollector
) -> None:
    assert returned(function) == "returned 1"  # the first flush after start-up; the function is frozen now
    assert invocations(collector) == [("do the work", "handle event"), ("handle event", "")]

    os.kill(function.pid, signal.SIGCONT)
    assert returned(function) == "returned 2"
    assert invocations(collector) == [("do the work", "handle event")] * 2 + [("handle event", "")] * 2
