"""``DynamiqSpanExporter.from_config``: settings resolved elsewhere, built by the constructor like any exporter.

One construction path: state the constructor sets exists on an exporter from a config too, and the config's
``flush_on_exit`` decides the process-end flush as the keyword does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq import exporter as exporter_module
from otel_dynamiq._config import load_config
from otel_dynamiq.collector import LocalCollector
from tests.support.common import wait_for_runs
from tests.support.runs import make_spans


class CountedExporter(DynamiqSpanExporter):
    """An exporter whose constructor leaves a mark, as a new attribute of the constructor would."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.built_by_init = True


@pytest.fixture
def armed(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The timeouts the process-end flush was armed with, instead of arming it in the test process."""
    calls: list[float] = []
    monkeypatch.setattr(exporter_module, "flush_at_process_end", lambda timeout, finish=None: calls.append(timeout))
    return calls


def test_an_exporter_from_a_config_is_built_by_the_constructor_and_delivers(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter]
) -> None:
    config = load_config(endpoint=collector.url, source_id="from-the-config")
    exporter = CountedExporter.from_config(config)
    exporters.append(exporter)
    assert isinstance(exporter, CountedExporter) and exporter.built_by_init
    assert exporter.config is config
    assert exporter.export(make_spans(2)) is SpanExportResult.SUCCESS
    runs = wait_for_runs(collector, 2)
    assert sorted(run["name"] for run in runs) == ["span-0", "span-1"]
    assert {run["source_id"] for run in runs} == {"from-the-config"}


def test_the_config_is_for_that_exporter_alone(collector: LocalCollector, exporters: list[DynamiqSpanExporter]) -> None:
    exporters.append(DynamiqSpanExporter.from_config(load_config(endpoint=collector.url, source_id="first")))
    later = DynamiqSpanExporter(endpoint=collector.url, source_id="second")
    exporters.append(later)
    assert later.config.source_id == "second"


def test_settings_beside_the_config_are_refused(collector: LocalCollector) -> None:
    class WithDefaults(DynamiqSpanExporter):
        def __init__(self, **options: Any) -> None:
            super().__init__(**{"timeout": 3, **options})

    with pytest.raises(TypeError, match=r"from_config\(\) takes the settings from its config, not from timeout"):
        WithDefaults.from_config(load_config(endpoint=collector.url))


def test_the_configs_flush_on_exit_decides_the_process_end_flush(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter], armed: list[float]
) -> None:
    config = load_config(endpoint=collector.url, timeout=4)
    exporters.append(DynamiqSpanExporter.from_config(config))
    assert armed == [4.0]
    exporters.append(DynamiqSpanExporter.from_config(replace(config, flush_on_exit=False)))
    assert armed == [4.0]


def test_an_exporter_a_subclass_builds_first_reads_its_own_settings(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The config goes to the exporter ``from_config`` builds, not to whichever its subclass's ``__init__``
    builds before calling up: that one reads its keywords, or the environment, as any exporter does."""
    given = load_config(endpoint=collector.url, source_id="given")
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_SOURCE_ID", "from the environment")

    class WithFallbacks(DynamiqSpanExporter):
        def __init__(self, **options: Any) -> None:
            self.keyworded = DynamiqSpanExporter(endpoint=collector.url, source_id="keyworded")
            self.plain = DynamiqSpanExporter(endpoint=collector.url)
            exporters.extend([self.keyworded, self.plain])
            super().__init__(**options)

    exporter = WithFallbacks.from_config(given)
    exporters.append(exporter)
    assert exporter.config is given
    assert exporter.keyworded.config.source_id == "keyworded"
    assert exporter.plain.config.source_id == "from the environment"
