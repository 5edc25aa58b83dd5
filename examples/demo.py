"""`make demo`: a real Dynamiq workflow, traced by `opentelemetry-instrument`, into the local collector.

Starts two local servers on 127.0.0.1, the embedded Dynamiq collector and an
OpenAI-compatible LLM that answers by rule, then runs `dynamiq_app.py` (an
agent with a calculator tool, then an LLM node) as a real subprocess under
`opentelemetry-instrument`, exactly as you would in production with only the
endpoints pointed here. Then it prints the trace the collector received and
the address of the trace viewer, and keeps the collector running until Enter.

    python -m examples.demo [--wait | --no-wait]     (from the repository root; `make demo` runs it)

Without either flag it waits only when stdin is a terminal (never in CI);
OTEL_DYNAMIQ_DEMO_WAIT=1 or 0 decides as the flags do.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from pathlib import Path

from examples.local_llm import LocalLLM
from otel_dynamiq.collector import LocalCollector, render_tree

HERE = Path(__file__).resolve().parent
APPLICATION = HERE / "dynamiq_app.py"
WAIT_VARIABLE = "OTEL_DYNAMIQ_DEMO_WAIT"


def run_application(
    collector_url: str, llm_url: str, base_environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`dynamiq_app.py` under `opentelemetry-instrument`, sending to the collector; the browser tests reuse it."""
    environment = {
        **(os.environ if base_environment is None else base_environment),
        "OTEL_EXPORTER_DYNAMIQ_ENDPOINT": collector_url,  # a loopback collector needs no key
        "OTEL_SERVICE_NAME": "otel-dynamiq-demo",
        "OPENAI_URL": llm_url,
        "OPENAI_API_KEY": "local-demo-key",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    command = [str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable, str(APPLICATION)]
    return subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )


def should_wait(flag: bool | None) -> bool:
    """The flag, else the variable, else whether someone is at a terminal to press Enter."""
    if flag is not None:
        return flag
    setting = os.environ.get(WAIT_VARIABLE, "").strip().lower()
    if setting in ("1", "true", "yes"):
        return True
    if setting in ("0", "false", "no"):
        return False
    return sys.stdin is not None and sys.stdin.isatty()


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--wait", dest="wait", action="store_true", default=None, help="keep the collector up")
    options.add_argument("--no-wait", dest="wait", action="store_false", help="stop as soon as the trace is printed")
    wait = should_wait(options.parse_args(argv).wait)
    with LocalLLM() as llm, LocalCollector() as collector:
        print(f"$ opentelemetry-instrument python {APPLICATION.relative_to(HERE.parent)}")
        print(f"  (Dynamiq collector on {collector.url}, LLM on {llm.url})\n")
        done = run_application(collector.url, llm.url)
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
        print(f"\nSee it in the trace viewer: {collector.url}/#/trace/{trace_id}", flush=True)
        if wait:
            print("The collector keeps serving it until you press Enter.", flush=True)
            with contextlib.suppress(EOFError, KeyboardInterrupt):  # Enter, end of input or Ctrl-C: all mean stop
                input()
    return 0


if __name__ == "__main__":
    sys.exit(main())
