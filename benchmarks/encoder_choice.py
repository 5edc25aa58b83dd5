"""Why the exporter depends on orjson: encode the same realistic runs with json and orjson.

    .venv/bin/python benchmarks/encoder_choice.py [--runs N] [--repeat R]

Prints the median time per run for each encoder and the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid

import orjson


def realistic_runs(count: int) -> list[dict]:
    payload = "The refund policy allows returns within 30 days of purchase. " * 16  # ~1 KB
    return [
        {
            "id": str(uuid.uuid4()),
            "name": f"node-{index}",
            "type": "node",
            "trace_id": str(uuid.uuid4()),
            "source_id": "source",
            "session_id": "session",
            "start_time": "2026-01-01T00:00:00.000001+00:00",
            "end_time": "2026-01-01T00:00:00.250001+00:00",
            "parent_run_id": str(uuid.uuid4()),
            "status": "succeeded",
            "input": {"query": payload, "top_k": 5},
            "output": {"content": payload, "documents": [{"id": i, "score": 0.5} for i in range(5)]},
            "metadata": {
                "node": {"id": str(uuid.uuid4()), "name": "LLM", "group": "llms", "model": "gpt-4o"},
                "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
                "run_depends": [],
            },
            "error": None,
            "executions": [],
            "tags": ["prod"],
        }
        for index in range(count)
    ]


def time_per_run(encode, runs: list[dict], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        for run in runs:
            encode(run)
        samples.append((time.perf_counter() - started) / len(runs))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--tiny", action="store_true", help="a seconds-long run that only proves the script works")
    args = parser.parse_args()
    if args.tiny:
        args.runs, args.repeat = 200, 2
    runs = realistic_runs(args.runs)
    stdlib = statistics.median(time_per_run(lambda run: json.dumps(run).encode(), runs, args.repeat))
    fast = statistics.median(time_per_run(orjson.dumps, runs, args.repeat))
    print(f"{'encoder':<10}{'µs per run (median)':>22}")
    print(f"{'json':<10}{stdlib * 1e6:>22.2f}")
    print(f"{'orjson':<10}{fast * 1e6:>22.2f}")
    print(f"json / orjson = {stdlib / fast:.1f}x")


if __name__ == "__main__":
    main()
