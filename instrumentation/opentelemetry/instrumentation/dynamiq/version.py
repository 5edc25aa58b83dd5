"""One distribution ships the exporter and the instrumentation: one version for both."""

from otel_dynamiq.version import __version__

__all__ = ["__version__"]
