"""The local collector: Dynamiq's trace contract on 127.0.0.1, for the demo, the tests and offline work."""

from otel_dynamiq.collector._server import LocalCollector
from otel_dynamiq.collector._store import RunStore
from otel_dynamiq.collector._tree import render_tree
from otel_dynamiq.collector._validate import validate_body, validate_run

__all__ = ["LocalCollector", "RunStore", "render_tree", "validate_body", "validate_run"]
