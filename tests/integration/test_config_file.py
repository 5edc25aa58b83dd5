"""OpenTelemetry's declarative configuration file (``OTEL_CONFIG_FILE``) naming the ``dynamiq`` exporter.

``opentelemetry-configuration`` builds the exporter from the file by its entry point, with the
keywords YAML gives: strings, numbers, booleans, lists and maps. The subprocess imports this
worktree's package (PYTHONPATH), as a user's application imports the installed one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from otel_dynamiq.collector import LocalCollector
from tests.support.common import FAKE_KEY, wait_for_runs
from tests.support.processes import BIN, ROOT, clean_env, run
from tests.support.tls import CertificateAuthority

pytest.importorskip("opentelemetry.configuration", reason="the test extra installs opentelemetry-configuration")


def config_file(
    directory: Path, collector: LocalCollector, authority: CertificateAuthority, other_shapes: bool = False
) -> Path:
    """``other_shapes``: headers as the file's list of name/value pairs, redact_keys as one string."""
    certificate, key = authority.client_certificate(directory)
    exporter = {
        "endpoint": collector.url,
        "access_key": FAKE_KEY,
        "timeout": 5,  # a number
        "compression": "gzip",
        "headers": {"x-team": "ai-ops"},  # a map
        "max_request_bytes": 65536,
        "source_id": "from-the-config-file",
        "session_id": "session-from-the-file",
        "insecure": False,  # a boolean
        "redact_keys": ["operation.name"],  # a list
        "spool": True,
        "spool_dir": str(directory / "spool"),
        "spool_max_bytes": 2_000_000,
        "spool_max_age": 3600.5,
        "certificate_file": str(authority.ca_file),
        "flush_on_exit": True,
        "client_certificate_file": str(certificate),
        "client_key_file": str(key),
        "mask": "tests.apps.masks:tag_run",
    }
    if other_shapes:
        exporter["headers"] = [{"name": "x-team", "value": "ai-ops"}, {"name": "x-shard", "value": "3"}]
        exporter["redact_keys"] = "operation.name, customer_ref"
    document = {
        "file_format": "1.0",
        "resource": {"attributes": [{"name": "service.name", "value": "config-file-test"}]},
        "tracer_provider": {"processors": [{"batch": {"exporter": {"dynamiq": exporter}}}]},
    }
    path = directory / "otel-config.yaml"
    path.write_text(json.dumps(document, indent=2))  # JSON is YAML: the types are the ones YAML gives
    return path


@pytest.mark.parametrize("distro", ["ours", "beside the stock distro"])
def test_opentelemetry_instrument_builds_the_exporter_from_the_config_file(
    keyed_collector: LocalCollector, tmp_path: Path, distro: str
) -> None:
    authority = CertificateAuthority(tmp_path)
    path = config_file(tmp_path, keyed_collector, authority, other_shapes=distro != "ours")
    python_path = [str(ROOT), str(ROOT / "instrumentation")]
    if distro != "ours":
        python_path.append(str(ROOT / ".venv" / "stock-distro"))
    environment = clean_env(OTEL_CONFIG_FILE=str(path), PYTHONPATH=":".join(python_path))
    done = run([str(BIN / "opentelemetry-instrument"), sys.executable, "examples/cli_app.py"], environment)
    runs = {stored["name"]: stored for stored in wait_for_runs(keyed_collector, 2)}
    assert set(runs) == {"answer question", "chat tiny-model"}
    llm = runs["chat tiny-model"]
    assert {stored["source_id"] for stored in runs.values()} == {"from-the-config-file"}
    assert {stored["session_id"] for stored in runs.values()} == {"session-from-the-file"}
    assert llm["metadata"]["otel"]["attributes"]["gen_ai.operation.name"] == "[redacted]"  # "chat" without
    assert llm["metadata"]["masked_by"] == "tests.apps.masks:tag_run"
    assert llm["metadata"]["otel"]["resource"]["service.name"] == "config-file-test"  # the file's resource
    assert "Traceback" not in done.stderr
    if distro == "ours":  # the stock configurator, loaded first beside ours, passes it on and the SDK warns
        assert "ignoring configurator kwargs" not in done.stderr
