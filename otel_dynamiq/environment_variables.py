"""Every environment variable the exporter reads, named in one place, and how a switch among them is spelled.

``opentelemetry-instrument`` builds exporters with no arguments, so each
setting must be reachable from the environment; keyword arguments win.
"""

from __future__ import annotations

from typing import Final

DYNAMIQ_ACCESS_KEY: Final = "DYNAMIQ_ACCESS_KEY"
DYNAMIQ_SERVICE_TOKEN: Final = "DYNAMIQ_SERVICE_TOKEN"  # noqa: S105 - a variable name
OTEL_EXPORTER_DYNAMIQ_ENDPOINT: Final = "OTEL_EXPORTER_DYNAMIQ_ENDPOINT"
OTEL_EXPORTER_DYNAMIQ_TIMEOUT: Final = "OTEL_EXPORTER_DYNAMIQ_TIMEOUT"
OTEL_EXPORTER_DYNAMIQ_COMPRESSION: Final = "OTEL_EXPORTER_DYNAMIQ_COMPRESSION"
OTEL_EXPORTER_DYNAMIQ_HEADERS: Final = "OTEL_EXPORTER_DYNAMIQ_HEADERS"
OTEL_EXPORTER_DYNAMIQ_MAX_REQUEST_BYTES: Final = "OTEL_EXPORTER_DYNAMIQ_MAX_REQUEST_BYTES"
OTEL_EXPORTER_DYNAMIQ_SOURCE_ID: Final = "OTEL_EXPORTER_DYNAMIQ_SOURCE_ID"
OTEL_EXPORTER_DYNAMIQ_INSECURE: Final = "OTEL_EXPORTER_DYNAMIQ_INSECURE"
"""``true`` allows plain ``http://`` to a host that is not this machine (the key then travels in clear)."""
OTEL_EXPORTER_DYNAMIQ_CERTIFICATE: Final = "OTEL_EXPORTER_DYNAMIQ_CERTIFICATE"
"""A PEM file of the certificate authorities trusted for an ``https://`` endpoint, instead of the defaults."""
OTEL_EXPORTER_DYNAMIQ_REDACT_KEYS: Final = "OTEL_EXPORTER_DYNAMIQ_REDACT_KEYS"
"""More key names whose values are masked before runs leave the process (comma-separated)."""
OTEL_EXPORTER_DYNAMIQ_SPOOL: Final = "OTEL_EXPORTER_DYNAMIQ_SPOOL"
"""``false`` turns the disk spool off: runs still undeliverable at the deadline are then dropped."""
OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR: Final = "OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR"
"""Where undelivered request bodies wait (default: ``otel-dynamiq-<uid>`` in the first writable of ``$TMPDIR``,
``/tmp``, ``/var/tmp``; memory only when none is)."""
OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_BYTES: Final = "OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_BYTES"
"""The most the spool holds for one endpoint and key; the oldest bodies go first."""
OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_AGE: Final = "OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_AGE"
"""Seconds a spooled body is kept before it is dropped as too old."""
OTEL_EXPORTER_DYNAMIQ_FLUSH_ON_EXIT: Final = "OTEL_EXPORTER_DYNAMIQ_FLUSH_ON_EXIT"
"""``false`` installs no flush at a process's end (SIGTERM, SIGINT, multiprocessing children)."""
OTEL_EXPORTER_DYNAMIQ_MEDIA_INLINE_BYTES: Final = "OTEL_EXPORTER_DYNAMIQ_MEDIA_INLINE_BYTES"
"""The largest image, audio or file kept inline (as a data URL) in a run's messages; 0 keeps none."""
OTEL_EXPORTER_DYNAMIQ_CLIENT_CERTIFICATE: Final = "OTEL_EXPORTER_DYNAMIQ_CLIENT_CERTIFICATE"
"""A PEM file with this client's TLS certificate (and its chain), for an endpoint that demands one (mTLS)."""
OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY: Final = "OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY"
"""The PEM private key of the client certificate, when the certificate's file does not hold it too."""
OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY_PASSWORD: Final = "OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY_PASSWORD"  # noqa: S105 - a name
"""The password of an encrypted client key; never logged or echoed."""
OTEL_EXPORTER_DYNAMIQ_MASK: Final = "OTEL_EXPORTER_DYNAMIQ_MASK"
"""``package.module:function``: called with each run before it is sent; returns the run to send, or None to drop it."""


def parse_bool(name: str, raw: str) -> bool:
    """``true``/``false`` (and 1/0, yes/no, on/off), or a ValueError naming the variable.

    The instrumentor's switches (``OTEL_INSTRUMENTATION_DYNAMIQ_*``) are read by it too, so every switch
    of the distribution takes the same words.
    """
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean; set it to 'true' or 'false'")
