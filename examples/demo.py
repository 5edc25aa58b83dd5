"""`make demo`: an application traced through `opentelemetry-instrument`, into the local collector.

Starts the embedded collector on 127.0.0.1, runs the application as a real
subprocess under `opentelemetry-instrument` (the way you would in production,
with only the endpoint pointed here), then prints the trace the collector
received.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from otel_dynamiq.collector import LocalCollector, render_tree

HERE = Path(__file__).resolve().parent
APPLICATION = HERE / "cli_app.py"


def main() -> int:
    with LocalCollector() as collector:
        environment = {
            **os.environ,
            "OTEL_EXPORTER_DYNAMIQ_ENDPOINT": collector.url,
            "OTEL_SERVICE_NAME": "otel-dynamiq-demo",
        }
        command = [str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable, str(APPLICATION)]
        print(f"$ opentelemetry-instrument python {APPLICATION.relative_to(HERE.parent)}")
        print(f"  (collector on {collector.url})")
        done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
        sys.stderr.write(done.stderr)
        if done.returncode != 0:
            return done.returncode
        trace_hex = done.stdout.split()[-1]
        trace_id = f"{trace_hex[:8]}-{trace_hex[8:12]}-{trace_hex[12:16]}-{trace_hex[16:20]}-{trace_hex[20:]}"
        deadline = time.monotonic() + 10
        runs = collector.store.runs(trace_id)
        while not runs and time.monotonic() < deadline:
            time.sleep(0.1)
            runs = collector.store.runs(trace_id)
        if not runs:
            print("The collector received no runs.", file=sys.stderr)
            return 1
        print(f"\nThe collector received trace {trace_id} ({len(runs)} runs):\n")
        print(render_tree(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
