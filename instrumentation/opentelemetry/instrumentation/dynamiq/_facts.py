"""What the instrumentation knows about a workflow, flow or node before it runs, read at every run start.

A node's facts name its span and its GenAI attributes, so they are read on
the application's thread before each node run. Two of the attributes read
(``connection`` and ``model``) are absent on most nodes, and pydantic
answers an absent attribute through its ``__getattr__``, which raises and
catches an ``AttributeError``: that alone was about two thirds of reading a
node's facts. Here an attribute the class cannot have is answered from what that
``__getattr__`` would consult (the instance's dict and its extra fields),
and the facts themselves are kept by the values they are made from, so a
node whose name, group, connection or model changes gets new facts at once.
Whether the class lacks the attribute is asked at every call (a class can
gain one later), and the cache holds only short strings and Dynamiq's group
members: never a class, so classes made per request are freed as before.
"""

from __future__ import annotations

from typing import Any

from dynamiq.nodes import NodeGroup
from opentelemetry.instrumentation.dynamiq._attributes import RunnableFacts, split_model
from pydantic import BaseModel

_PYDANTIC_GETATTR = getattr(BaseModel, "__getattr__", None)
_OBJECT_GETATTRIBUTE = object.__getattribute__
_MAX_REMEMBERED = 4096
"""Facts kept before the cache starts over: node configurations made on the fly stay bounded."""
_MAX_REMEMBERED_TEXT = 256
"""Longer names and models are read afresh each time: the cache must not pin large strings."""

_facts_by_values: dict[tuple[Any, ...], RunnableFacts] = {}


def _remember(key: tuple[Any, ...], facts: RunnableFacts) -> None:
    if len(_facts_by_values) >= _MAX_REMEMBERED:
        _facts_by_values.clear()
    _facts_by_values[key] = facts


def _answered_only_by_pydantic_getattr(cls: type, name: str) -> bool:
    """Whether ordinary lookup finds nothing for ``name``, so ``getattr`` would end in pydantic's ``__getattr__``.

    Asked afresh at every call (a class can gain the attribute, a property, a patch at any time); the class's
    MRO is a handful of dict lookups, far cheaper than the exception it spares.
    """
    if _PYDANTIC_GETATTR is None or getattr(cls, "__getattr__", None) is not _PYDANTIC_GETATTR:
        return False
    if getattr(cls, "__getattribute__", None) is not _OBJECT_GETATTRIBUTE:
        return False
    if name in (getattr(cls, "__private_attributes__", None) or ()):
        return False
    for klass in cls.__mro__:  # noqa: SIM110 - a loop: this runs at every node start, a generator costs more
        if name in klass.__dict__:
            return False
    return True


def optional_attribute(instance: Any, name: str) -> Any:
    """``getattr(instance, name, None)``, without pydantic's exception for an attribute the class lacks."""
    if not _answered_only_by_pydantic_getattr(type(instance), name):
        return getattr(instance, name, None)
    own = getattr(instance, "__dict__", None)
    if type(own) is not dict:
        return getattr(instance, name, None)
    if name in own:
        return own[name]
    extra = getattr(instance, "__pydantic_extra__", None)
    return extra.get(name) if extra else None


def _rememberable(text: Any) -> bool:
    return type(text) is str and 0 < len(text) <= _MAX_REMEMBERED_TEXT


def facts_for_node(node: Any) -> RunnableFacts:
    name = getattr(node, "name", None)
    group = getattr(node, "group", None)
    connection = optional_attribute(node, "connection")
    model = optional_attribute(node, "model")
    connection_kind = type(connection).__name__ if connection is not None else None
    if not (
        _rememberable(name)
        and (model is None or _rememberable(model))
        and (group is None or type(group) is str or type(group) is NodeGroup)
    ):
        return _make_node_facts(node, name, group, connection_kind, model)  # unusual values: no cache to reason about
    key = (name, group, connection_kind, model)
    known = _facts_by_values.get(key)
    if known is None:
        known = _make_node_facts(node, name, group, connection_kind, model)
        _remember(key, known)
    return known


def _make_node_facts(node: Any, name: Any, group: Any, connection_kind: str | None, model: Any) -> RunnableFacts:
    group_name = getattr(group, "value", group)
    provider = connection_kind.lower() if connection_kind is not None else None
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
    if not _rememberable(name):
        return RunnableFacts(kind="workflow", name=str(name or "Workflow"))
    key = ("workflow", name)
    known = _facts_by_values.get(key)
    if known is None:
        known = RunnableFacts(kind="workflow", name=str(name))
        _remember(key, known)
    return known
