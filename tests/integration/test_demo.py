"""`make demo` is the first thing a user runs: it must keep printing a real trace tree and the viewer's link."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request

import pytest

from tests.support.processes import ROOT, clean_env

pytestmark = pytest.mark.same_on_every_python  # the demo runs the code the other tests run

VIEWER_LINK = re.compile(r"^See it in the trace viewer: (http://127\.0\.0\.1:\d+)/#/trace/([0-9a-f-]{36})$")


def test_demo_prints_the_received_trace_tree_and_ends_without_a_terminal() -> None:
    # No flag and no terminal on stdin (as in CI): it must not wait for an Enter nobody can press.
    done = subprocess.run(
        [sys.executable, "-m", "examples.demo"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "workflow success: Happy to help: the answer is 4." in lines
    assert any(line.startswith("Workflow [workflow]  succeeded") for line in lines)
    assert any(line.startswith("└─ Flow [flow]  succeeded") for line in lines)
    assert any("├─ Math agent [node]  succeeded" in line for line in lines)
    assert sum("Agent LLM [node]  succeeded" in line and "tokens " in line for line in lines) == 2
    assert any("calculator [node]  succeeded" in line for line in lines)
    assert any("└─ Polisher [node]  succeeded" in line and "tokens " in line for line in lines)
    (trace_id,) = [match.group(2) for line in lines if (match := VIEWER_LINK.match(line))]
    assert f"The collector received trace {trace_id} " in done.stdout
    assert "press Enter" not in done.stdout
    # Each call's tokens once, on its LLM node: the client spans under it (other instrumentations) show none.
    assert sum("tokens " in line for line in lines) == 3


def test_with_wait_the_viewer_serves_the_trace_until_enter() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "examples.demo", "--wait"],
        env=clean_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert demo.stdout is not None and demo.stdin is not None
        for line in demo.stdout:  # ends with the process if the link never comes
            if match := VIEWER_LINK.match(line.strip()):
                break
        else:
            raise AssertionError(f"no viewer link; stderr: {demo.stderr.read() if demo.stderr else ''}")
        base, trace_id = match.groups()
        assert "press Enter" in demo.stdout.readline()
        with urllib.request.urlopen(f"{base}/", timeout=10) as page:
            assert b"/viewer/app.js" in page.read()
        with urllib.request.urlopen(f"{base}/viewer/api/traces/{trace_id}", timeout=10) as answer:
            summary = json.load(answer)
        assert summary["name"] == "Workflow"
        assert summary["status"] == "succeeded"
        assert summary["tokens"] > 0
        demo.stdin.write("\n")
        demo.stdin.flush()
        assert demo.wait(timeout=30) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
