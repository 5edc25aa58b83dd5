"""Where Dynamiq announces what a run does: its ``run_on_*`` callback dispatchers.

Every workflow, flow and node tells its callbacks about each step through
one of these methods. Wrapping them (instead of adding a handler to the
run's config) lets us see every step exactly as a tracing handler would,
while the application's callbacks, config and run ids stay untouched: the
original dispatcher always runs first, with the caller's own arguments.

Each event is described by a small function with Dynamiq's own parameter
names, so Python binds positional and keyword calls alike, and returns the
arguments the native handler method takes after ``serialized``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

Arguments = tuple[tuple[Any, ...], dict[str, Any]]


def for_tracing(data: Any) -> Any:
    """The form Dynamiq hands a tracing handler: ``to_dict(for_tracing=True)`` where there is one."""
    return data.to_dict(for_tracing=True) if hasattr(data, "to_dict") else data


# --- workflow and flow dispatchers: (self, <data>, config=None, **kwargs) ------------------------------


def _runnable_start(input_data: Any, config: Any = None, **kwargs: Any) -> Arguments:
    return (input_data,), kwargs


def _workflow_end(output: Any, config: Any = None, **kwargs: Any) -> Arguments:
    return (output,), kwargs


def _flow_end(output_data: Any, config: Any = None, **kwargs: Any) -> Arguments:
    return (output_data,), kwargs


def _runnable_error(error: BaseException, config: Any = None, **kwargs: Any) -> Arguments:
    return (error,), kwargs


def _runnable_canceled(config: Any = None, **kwargs: Any) -> Arguments:
    return (), kwargs


# --- node dispatchers: (self, callbacks, <data>, **kwargs) --------------------------------------------


def _node_start(callbacks: Any, input_data: Any, **kwargs: Any) -> Arguments:
    return (for_tracing(input_data),), kwargs


def _node_end(callbacks: Any, output_data: Any, **kwargs: Any) -> Arguments:
    return (for_tracing(output_data),), kwargs


def _node_error(callbacks: Any, error: BaseException, **kwargs: Any) -> Arguments:
    return (error,), kwargs


def _node_skip(
    callbacks: Any, skip_data: Any, input_data: Any, human_feedback: str | None = None, **kwargs: Any
) -> Arguments:
    return (skip_data, for_tracing(input_data), human_feedback), kwargs


def _node_bare(callbacks: Any, **kwargs: Any) -> Arguments:
    return (), kwargs


def _node_execute_start(callbacks: Any, input_data: Any, **kwargs: Any) -> Arguments:
    if isinstance(input_data, BaseModel):
        input_data = dict(input_data)
    return (for_tracing(input_data),), kwargs


@dataclass(frozen=True)
class Event:
    """One dispatcher: where it lives, the handler method it feeds, and what it means for the run."""

    module: str
    attribute: str
    handler_method: str
    arguments: Callable[..., Arguments]
    opens: bool = False
    """May create the run (a start, or an error, skip or cancel that came without one)."""
    closes: bool = False
    """Ends the run: it is taken off the builder and kept for its span."""

    @property
    def of_node(self) -> bool:
        return self.module == _NODE


_WORKFLOW = "dynamiq.workflow.workflow"
_FLOW = "dynamiq.flows.base"
_NODE = "dynamiq.nodes.node"

EVENTS = (
    Event(_WORKFLOW, "Workflow.run_on_workflow_start", "on_workflow_start", _runnable_start, opens=True),
    Event(_WORKFLOW, "Workflow.run_on_workflow_end", "on_workflow_end", _workflow_end, closes=True),
    Event(_WORKFLOW, "Workflow.run_on_workflow_error", "on_workflow_error", _runnable_error, closes=True),
    Event(_WORKFLOW, "Workflow.run_on_workflow_canceled", "on_workflow_canceled", _runnable_canceled, closes=True),
    Event(_FLOW, "BaseFlow.run_on_flow_start", "on_flow_start", _runnable_start, opens=True),
    Event(_FLOW, "BaseFlow.run_on_flow_end", "on_flow_end", _flow_end, closes=True),
    Event(_FLOW, "BaseFlow.run_on_flow_error", "on_flow_error", _runnable_error, closes=True),
    Event(_FLOW, "BaseFlow.run_on_flow_canceled", "on_flow_canceled", _runnable_canceled, closes=True),
    Event(_NODE, "Node.run_on_node_start", "on_node_start", _node_start, opens=True),
    Event(_NODE, "Node.run_on_node_end", "on_node_end", _node_end, closes=True),
    Event(_NODE, "Node.run_on_node_error", "on_node_error", _node_error, opens=True, closes=True),
    Event(_NODE, "Node.run_on_node_skip", "on_node_skip", _node_skip, opens=True, closes=True),
    Event(_NODE, "Node.run_on_node_canceled", "on_node_canceled", _node_bare, opens=True, closes=True),
    Event(_NODE, "Node.run_on_node_execute_start", "on_node_execute_start", _node_execute_start),
    Event(_NODE, "Node.run_on_node_execute_end", "on_node_execute_end", _node_end),
    Event(_NODE, "Node.run_on_node_execute_error", "on_node_execute_error", _node_error),
    Event(_NODE, "Node.run_on_node_execute_run", "on_node_execute_run", _node_bare),
)
