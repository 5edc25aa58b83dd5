"""Running the package as users do: subprocesses from the repository root, with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from otel_dynamiq import environment_variables as env

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment minus every OpenTelemetry and Dynamiq setting but the test's spool."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "DYNAMIQ_")) and key != "PYTHONPATH"
    }
    if env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR in os.environ:
        environment[env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR] = os.environ[env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR]
    environment.update(extra)
    return environment


def run(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done
