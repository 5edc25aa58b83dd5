"""What the collector's store tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otel_dynamiq.collector import RunStore
from tests.collector.test_trace_labels import labelled


@pytest.fixture
def store() -> Iterator[RunStore]:
    """The labels tests' three traces (``labelled``), in a store of their own: for the labels and the search."""
    opened = labelled(RunStore())
    yield opened
    opened.close()
