"""Fork a worker while the exporter readies itself, as a pre-forking server's master may.

    fork_during_start.py ROUNDS

Each round forks a fresh master, which builds a provider and the exporter
(configured from the environment), waits a different few milliseconds (so
the fork lands before, during and after the exporter's start on its loop
thread), then forks a worker that makes one span named ``worker <round>``
and exits normally. Prints one JSON line: how many rounds hung, and how
many ended badly.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

ROUND_LIMIT_SECONDS = 20.0


def master(round_number: int) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from otel_dynamiq import DynamiqSpanExporter

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DynamiqSpanExporter()))
    trace.set_tracer_provider(provider)
    time.sleep((round_number % 10) * 0.01)  # 0 to 90 ms: the exporter starts 50 ms after it is built
    worker = os.fork()
    if worker == 0:
        with trace.get_tracer("fork-test").start_as_current_span(f"worker {round_number}"):
            pass
        sys.exit(0)  # the worker's atexit hooks deliver its span
    _, status = os.waitpid(worker, 0)
    os._exit(os.waitstatus_to_exitcode(status))


def main() -> None:
    rounds = int(sys.argv[1])
    hung = failed = 0
    for round_number in range(rounds):
        pid = os.fork()
        if pid == 0:
            master(round_number)
        deadline = time.monotonic() + ROUND_LIMIT_SECONDS
        while time.monotonic() < deadline:
            ended, status = os.waitpid(pid, os.WNOHANG)
            if ended:
                failed += os.waitstatus_to_exitcode(status) != 0
                break
            time.sleep(0.02)
        else:
            hung += 1
            os.killpg(os.getpgid(pid), signal.SIGKILL) if os.getpgid(pid) != os.getpgid(0) else os.kill(pid, 9)
            os.waitpid(pid, 0)
    print(json.dumps({"hung": hung, "failed": failed}), flush=True)


if __name__ == "__main__":
    main()
