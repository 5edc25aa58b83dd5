"""Fixtures of the gateway tests: the local collector standing in for the Dynamiq service, and a gateway before it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otel_dynamiq import environment_variables as env
from otel_dynamiq.collector import LocalCollector
from otel_dynamiq.gateway import Gateway


@pytest.fixture
def collector_behind(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCollector]:
    """The local collector, as the Dynamiq service the gateway delivers to."""
    with LocalCollector() as collector:
        monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT, collector.url)
        yield collector


@pytest.fixture
def gateway(collector_behind: LocalCollector) -> Iterator[Gateway]:
    with Gateway(port=0, grpc_port=0) as running:
        yield running
