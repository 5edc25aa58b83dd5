"""What the instrumentation knows about a workflow, flow or node before it runs, read at every run start.

A node's facts name its span and its GenAI attributes, so they are read on
the application's thread before each node run. Two of the attributes read
(``connection`` and ``model``) are absent on most nodes, and pydantic
answers an absent attribute through its ``__getattr__``, which raises and
catches an ``AttributeError``: that alone was about 40% of reading a node's
facts. Here an attribute the class cannot have is answered from what that
``__getattr__`` would consult (the instance's dict and its extra fields),
and the facts themselves are kept by the values they are made from, so a
node whose name, group, connection or model changes gets new facts at once.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.dynamiq._attributes import RunnableFacts, split_model
from pydantic import BaseModel

_PYDANTIC_GETATTR = getattr(BaseModel, "__getattr__", None)
_MAX_REMEMBERED = 4096
"""Entries in each cache before it starts over: classes and node configurations made on the fly stay bounded."""

_only_through_getattr: dict[tuple[type, str], bool] = {}
_facts_by_values: dict[tuple[Any, ...], RunnableFacts] = {}


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _MAX_REMEMBERED:
        cache.clear()
    cache[key] = value


def _reached_only_through_getattr(cls: type, name: str) -> bool:
    """Whether ``getattr(instance, name)`` can only be answered by pydantic's own ``__getattr__``."""
    key = (cls, name)
    answer = _only_through_getattr.get(key)
    if answer is None:
        private = getattr(cls, "__private_attributes__", None) or {}
        answer = (
            _PYDANTIC_GETATTR is not None
            and getattr(cls, "__getattr__", None) is _PYDANTIC_GETATTR
            and not hasattr(cls, name)
            and name not in private
        )
        _remember(_only_through_getattr, key, answer)
    return answer


def optional_attribute(instance: Any, name: str) -> Any:
    """``getattr(instance, name, None)``, without pydantic's exception for an attribute the class lacks."""
    if not _reached_only_through_getattr(type(instance), name):
        return getattr(instance, name, None)
    own = getattr(instance, "__dict__", None)
    if own is not None and name in own:
        return own[name]
    extra = getattr(instance, "__pydantic_extra__", None)
    return extra.get(name) if extra else None


def facts_for_node(node: Any) -> RunnableFacts:
    name = getattr(node, "name", None)
    group = getattr(node, "group", None)
    connection = optional_attribute(node, "connection")
    model = optional_attribute(node, "model")
    if type(name) is not str or (model is not None and type(model) is not str):
        return _make_node_facts(node, name, group, connection, model)  # unusual values: no cache to reason about
    key = (type(node), name, group, type(connection) if connection is not None else None, model)
    try:
        known = _facts_by_values.get(key)
    except TypeError:  # an unhashable group: read afresh each time
        return _make_node_facts(node, name, group, connection, model)
    if known is None:
        known = _make_node_facts(node, name, group, connection, model)
        _remember(_facts_by_values, key, known)
    return known


def _make_node_facts(node: Any, name: Any, group: Any, connection: Any, model: Any) -> RunnableFacts:
    group_name = getattr(group, "value", group)
    provider = type(connection).__name__.lower() if connection is not None else None
    model, provider = split_model(model, provider)
    return RunnableFacts(
        kind="node",
        name=str(name or type(node).__name__),
        group=str(group_name) if group_name is not None else None,
        model=model if isinstance(model, str) else None,
        provider=provider,
    )


_FLOW_FACTS = RunnableFacts(kind="flow", name="Flow")


def facts_for_flow(flow: Any) -> RunnableFacts:
    return _FLOW_FACTS


def facts_for_workflow(workflow: Any) -> RunnableFacts:
    name = getattr(workflow, "name", None)
    if type(name) is not str:
        return RunnableFacts(kind="workflow", name=str(name or "Workflow"))
    known = _facts_by_values.get((type(workflow), name))
    if known is None:
        known = RunnableFacts(kind="workflow", name=name or "Workflow")
        _remember(_facts_by_values, (type(workflow), name), known)
    return known
