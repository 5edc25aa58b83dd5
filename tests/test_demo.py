"""`make demo` is the first thing a user runs: it must keep printing a real trace tree."""

from __future__ import annotations

import subprocess
import sys

from tests.test_ways_in import ROOT, clean_env


def test_demo_prints_the_received_trace_tree() -> None:
    done = subprocess.run(
        [sys.executable, "examples/demo.py"], env=clean_env(), capture_output=True, text=True, timeout=300, cwd=ROOT
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
    # Each call's tokens once, on its LLM node: the client spans under it (other instrumentations) show none.
    assert sum("tokens " in line for line in lines) == 3
