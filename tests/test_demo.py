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
    assert "The collector received trace" in done.stdout
    assert "answer question [node]  succeeded" in done.stdout
    assert "└─ chat tiny-model [node]  succeeded" in done.stdout
    assert "tokens 7+2=9" in done.stdout
