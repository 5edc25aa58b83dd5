"""`otel-dynamiq doctor` as a user runs it: a real subprocess against the local collector."""

from __future__ import annotations

import subprocess
import sys

from otel_dynamiq.collector import LocalCollector
from tests.conftest import FAKE_KEY
from tests.test_ways_in import ROOT, clean_env


def doctor(**environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_dynamiq.cli", "doctor"],
        env=clean_env(**environment),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_a_sound_setup_is_confirmed_with_a_real_run(keyed_collector: LocalCollector) -> None:
    done = doctor(DYNAMIQ_ACCESS_KEY=FAKE_KEY, OTEL_EXPORTER_DYNAMIQ_ENDPOINT=keyed_collector.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"endpoint {keyed_collector.url}/v1/traces" in done.stdout
    assert "service: accepted a test run" in done.stdout
    assert [run["name"] for run in keyed_collector.store.runs()] == ["otel-dynamiq doctor"]
    assert FAKE_KEY not in done.stdout + done.stderr


def test_a_refused_key_is_reported_without_echoing_it(keyed_collector: LocalCollector) -> None:
    done = doctor(DYNAMIQ_ACCESS_KEY="wrong-key-1234", OTEL_EXPORTER_DYNAMIQ_ENDPOINT=keyed_collector.url)
    assert done.returncode == 1
    assert "not delivered (rejected)" in done.stdout
    assert "the access key was refused" in done.stderr
    assert "wrong-key-1234" not in done.stdout + done.stderr


def test_a_missing_key_is_a_configuration_error() -> None:
    done = doctor(OTEL_EXPORTER_DYNAMIQ_ENDPOINT="https://collector.example")
    assert done.returncode == 2
    assert "configuration: not usable" in done.stdout and "DYNAMIQ_ACCESS_KEY" in done.stdout
