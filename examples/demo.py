"""`make demo`: a real Dynamiq workflow, traced by `opentelemetry-instrument`, into the local collector.

Starts two local servers on 127.0.0.1, the embedded Dynamiq collector and an
OpenAI-compatible LLM that answers by rule, then runs `dynamiq_app.py` (an
agent with a calculator tool, then an LLM node) as a real subprocess under
`opentelemetry-instrument`, exactly as you would in production with only the
endpoints pointed here. Then it prints the trace the collector received.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from local_llm import LocalLLM

from otel_dynamiq.collector import LocalCollector, render_tree

HERE = Path(__file__).resolve().parent
APPLICATION = HERE / "dynamiq_app.py"


def main() -> int:
    with LocalLLM() as llm, LocalCollector() as collector:
        environment = {
            **os.environ,
            "OTEL_EXPORTER_DYNAMIQ_ENDPOINT": collector.url,  # a loopback collector needs no key
            "OTEL_SERVICE_NAME": "otel-dynamiq-demo",
            "OPENAI_URL": llm.url,
            "OPENAI_API_KEY": "local-demo-key",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
        command = [str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable, str(APPLICATION)]
        print(f"$ opentelemetry-instrument python {APPLICATION.relative_to(HERE.parent)}")
        print(f"  (Dynamiq collector on {collector.url}, LLM on {llm.url})\n")
        done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            return done.returncode
        print(done.stdout.strip())
        # The exporter delivers everything before the application exits.
        traces = collector.store.traces()
        if not traces:
            print("The collector received no runs.", file=sys.stderr)
            return 1
        trace_id = traces[0]["trace_id"]
        runs = collector.store.runs(trace_id)
        print(f"\nThe collector received trace {trace_id} ({len(runs)} runs):\n")
        print(render_tree(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
