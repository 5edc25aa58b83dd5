"""A small Dynamiq flow that says which of the instrumentor's patches are in place, then runs.

Run under ``opentelemetry-instrument``: the instrumentor has patched Dynamiq
before this script starts, so what it prints is what the environment chose.
It prints one JSON object, then the workflow's status.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Literal

from dynamiq import Workflow
from dynamiq.executors.pool import PoolExecutor
from dynamiq.flows import Flow
from dynamiq.flows import flow as flow_module
from dynamiq.nodes import Node, NodeGroup
from dynamiq.nodes.node import NodeDependency
from dynamiq.runnables import RunnableConfig
from dynamiq.utils import utils as dynamiq_utils


class Step(Node):
    group: Literal[NodeGroup.UTILS] = NodeGroup.UTILS
    name: str = "step"

    def execute(self, input_data: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict[str, Any]:
        return {"value": f"{self.name} done"}


def patches() -> dict[str, bool]:
    """Each patch by what it replaces: a wrapper keeps the original as ``__wrapped__``."""
    return {
        "tracing": hasattr(Flow.__dict__["run_sync"], "__wrapped__"),
        "polling": flow_module.time is not time or flow_module.asyncio is not asyncio,
        "step_observed": hasattr(PoolExecutor.__dict__["execute"], "__wrapped__"),
        "fast_format": hasattr(dynamiq_utils.__dict__["format_value"], "__wrapped__"),
    }


def main() -> None:
    print(json.dumps(patches()))
    first = Step(name="A")
    second = Step(name="B", depends=[NodeDependency(first)])
    result = Workflow(flow=Flow(nodes=[first, second])).run_sync(input_data={"who": "probe"})
    print(f"workflow {result.status.value}")


if __name__ == "__main__":
    main()
