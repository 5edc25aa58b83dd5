"""Fixtures every test may use; the helpers they are built from live in ``tests/support/``."""

from __future__ import annotations

import os

# dynamiq imports litellm, which downloads a price map unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import logging
from collections.abc import Iterator

import pytest

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq import environment_variables as env
from otel_dynamiq._delivery.ledger import LedgerError
from otel_dynamiq.collector import LocalCollector
from tests.support.common import FAKE_KEY, SpanRecorder

SLOWEST_FIRST = (
    "tests/integration/",
    "tests/translation/test_llm_instrumentations.py",
    "tests/delivery/test_faults.py",
    "tests/exporter/test_doctor.py",
    "tests/instrumentation/test_speedups.py",
    "tests/gateway/",
)
"""Tests that start subprocesses or wait on servers, run before the quick ones."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slowest first: at the end of the run, a few long subprocess tests would leave a worker (and a core)
    idle for minutes while the other finishes them; at the start, the quick tests fill the gaps instead."""
    items.sort(key=lambda item: not item.nodeid.startswith(SLOWEST_FIRST))


@pytest.fixture(autouse=True)
def _clean_exporter_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests start from an environment with none of the exporter's variables, and a spool of their own.

    The spool directory is set (and inherited by the subprocesses a test starts),
    so no test resends what another one left behind in the default directory.
    """
    for name in vars(env).values():
        if isinstance(name, str) and (name.startswith("OTEL_EXPORTER_DYNAMIQ") or name.startswith("DYNAMIQ_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR, str(tmp_path_factory.mktemp("spool")))
    # A run counted twice, or never, fails the test that did it (and the subprocesses it starts).
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_CHECK_LEDGER, "true")


@pytest.fixture
def exporters() -> Iterator[list[DynamiqSpanExporter]]:
    """Exporters a test makes (it appends them here) are shut down after it, even when it fails."""
    made: list[DynamiqSpanExporter] = []
    yield made
    for exporter in made:
        exporter.shutdown(timeout_millis=2000)


@pytest.fixture
def collector() -> Iterator[LocalCollector]:
    with LocalCollector() as running:
        yield running


@pytest.fixture
def keyed_collector() -> Iterator[LocalCollector]:
    with LocalCollector(access_key=FAKE_KEY) as running:
        yield running


@pytest.fixture
def recorder() -> Iterator[SpanRecorder]:
    made = SpanRecorder()
    yield made
    made.provider.shutdown()


class _LedgerErrorsSeen(logging.Handler):
    """Keeps the ledger's errors that a span processor caught and logged instead of letting them rise."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, LedgerError):
            self.seen.append(str(error))


@pytest.fixture(autouse=True)
def _every_run_settles_once() -> Iterator[None]:
    """A run counted twice fails the test even where the SDK's processor catches the error and logs it."""
    handler = _LedgerErrorsSeen()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    assert not handler.seen, f"the ledger caught runs counted wrongly: {handler.seen}"
