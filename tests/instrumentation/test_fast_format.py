"""``format_value`` while instrumented gives what Dynamiq's own gives, value for value, and is restored after."""

from __future__ import annotations

import contextvars
import functools
import importlib
import io
import typing
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from dynamiq.utils import utils as dynamiq_utils
from dynamiq.utils.utils import orjson_encode
from opentelemetry.instrumentation.dynamiq._fast_format import MODULES_HOLDING_FORMAT_VALUE, PLAIN_SCALARS
from opentelemetry.sdk.trace import TracerProvider

from tests.support import dynamiq_apps as ds

CORPUS: list[Any] = [
    *ds.every_kind_of_value().values(),
    ds.every_kind_of_value(),
    [ds.every_kind_of_value(), (1, "a", None), {"k": [True, 2.5, "x" * 300]}],
    "",
    "x" * 100_000,
    0,
    -(2**70),
    2**70,
    float("nan"),
    float("inf"),
    -0.0,
    False,
    None,
    ds.Label("text subclass"),
    ds.Count(5),
    ds.Level.HIGH,
    {"password": "hunter2", "api_key": "k", "nested": {"token": "t", "fine": 1}},
    list(range(300)),
    {(1, 2): "tuple key", None: "none key", 1.5: "float key"},
    {"outer": [list(range(80)), (tuple(range(80)),), {"mcp_http_headers": {"Authorization": "secret"}}]},
    [{"mcp_http_headers": "x", "kept": [None, ({"a"}, [])]}],
    {"empty": {}, "none": [], "t": (), "s": set()},
    {"results": {"node": dynamiq_utils.UntruncatedList(range(120))}},
    {"mixed": [b"bytes", io.BytesIO(b"f"), ValueError("inside"), ds.LookupInput(a=1, b=2), OrderedDict(z=[1] * 60)]},
]
OPTIONS: list[dict[str, Any]] = [
    {},
    {"for_tracing": True},
    {"for_tracing": True, "truncate_limit": 3},
    {"skip_format_types": {str, int}},
    {"force_format_types": {str}, "skip_format_types": {str}},
    {"skip_format_types": {dict}, "for_tracing": True},
    {"skip_format_types": {object}, "force_format_types": {list}},
    {"skip_format_types": {io.BytesIO, bytes}, "force_format_types": set()},
    {"for_tracing": True, "truncate_limit": 0},
]


def shape(value: Any) -> Any:
    """Everything two formatted values must agree on: their JSON text and the type of every part."""
    if isinstance(value, dict):
        return ("dict", type(value), [(type(key), repr(key), shape(item)) for key, item in value.items()])
    if isinstance(value, (list, tuple, set)):
        return (
            "seq",
            type(value),
            sorted(repr(shape(item)) for item in value) if isinstance(value, set) else [shape(item) for item in value],
        )
    try:
        return (type(value), orjson.dumps(value, default=orjson_encode, option=orjson.OPT_NON_STR_KEYS))
    except TypeError:  # integers past 64 bits: Dynamiq's encoder cannot write them either
        return (type(value), repr(value))


def format_everything(format_value: Any) -> list[Any]:
    return [shape(format_value(value, **options)) for value in CORPUS for options in OPTIONS]


def test_every_value_formats_exactly_as_dynamiq_formats_it() -> None:
    original = format_everything(dynamiq_utils.format_value)
    with ds.instrumentation(tracer_provider=TracerProvider()):
        assert dynamiq_utils.format_value is not original  # the fast path is in place
        fast = format_everything(dynamiq_utils.format_value)
        via_tracing_module = format_everything(importlib.import_module("dynamiq.callbacks.tracing").format_value)
    assert fast == original
    assert via_tracing_module == original


def test_scalars_come_back_as_themselves_in_fresh_contexts_without_building_a_class() -> None:
    """The case that cost most: a fresh thread's copied context, where pydantic's class cache starts empty."""
    from pydantic import RootModel

    built: list[Any] = []
    original_class_getitem = RootModel.__class_getitem__.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, params: Any) -> Any:
        built.append(params)
        return original_class_getitem(cls, params)

    def format_in_a_fresh_context(value: Any) -> Any:
        return contextvars.Context().run(dynamiq_utils.format_value, value, for_tracing=True)

    values = ["text", 3, 2.5, True, None]
    with ds.instrumentation(tracer_provider=TracerProvider()):
        try:
            RootModel.__class_getitem__ = classmethod(counting)  # type: ignore[assignment, method-assign]
            with ThreadPoolExecutor(4) as pool:
                results = list(pool.map(format_in_a_fresh_context, values * 20))
        finally:
            RootModel.__class_getitem__ = classmethod(original_class_getitem)  # type: ignore[assignment, method-assign]
    assert results == values * 20
    assert all(type(result) is type(value) for result, value in zip(results, values * 20, strict=True))
    assert built == []
    assert {type(value) for value in values} == PLAIN_SCALARS


@pytest.mark.parametrize("install_spy_first", [True, False], ids=["spy before instrument()", "spy after instrument()"])
def test_a_patch_of_format_value_sees_every_call_it_sees_without_us(install_spy_first: bool) -> None:
    """A user's patch (a spy, a mask) keeps seeing, and deciding, every nested value, wherever it was put."""
    tracing_module = importlib.import_module("dynamiq.callbacks.tracing")
    original = dynamiq_utils.format_value
    seen: list[tuple[str, Any]] = []

    @functools.wraps(original)
    def spying(value: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((type(value).__name__, kwargs.get("path")))
        return original(value, *args, **kwargs)

    value = {"a": [1, {"b": b"x", "c": (ValueError("e"),)}], 7: ds.LookupInput(a=1, b=2)}
    dynamiq_utils.format_value = spying
    try:
        native = shape(tracing_module.format_value(value, for_tracing=True))
        native_calls, seen[:] = list(seen), []
    finally:
        dynamiq_utils.format_value = original
    try:
        if install_spy_first:
            dynamiq_utils.format_value = spying
            with ds.instrumentation(tracer_provider=TracerProvider()):
                ours = shape(importlib.import_module("dynamiq.callbacks.tracing").format_value(value, for_tracing=True))
        else:
            with ds.instrumentation(tracer_provider=TracerProvider()):
                dynamiq_utils.format_value = spying
                ours = shape(importlib.import_module("dynamiq.callbacks.tracing").format_value(value, for_tracing=True))
    finally:
        dynamiq_utils.format_value = original
    assert ("int", "a[0]") in native_calls and ("bytes", "a[1].b") in native_calls
    assert seen == native_calls
    assert ours == native


def test_a_skipped_container_comes_back_as_the_very_object() -> None:
    skipped = {"k": [1]}
    with ds.instrumentation(tracer_provider=TracerProvider()):
        assert dynamiq_utils.format_value(skipped, skip_format_types={dict}) is skipped


def test_the_redaction_table_is_read_when_formatting() -> None:
    """An application that adds its own secret keys after instrument() still has them redacted."""
    keys, placeholder = dynamiq_utils.TRACING_REDACTED_KEYS, dynamiq_utils.TRACING_REDACTED_PLACEHOLDER
    value = {"api_key": "sk-1", "nested": [{"api_key": "sk-2", "kept": 1}]}
    with ds.instrumentation(tracer_provider=TracerProvider()):
        try:
            dynamiq_utils.TRACING_REDACTED_KEYS = keys | {"api_key"}
            dynamiq_utils.TRACING_REDACTED_PLACEHOLDER = "[hidden]"
            ours = dynamiq_utils.format_value(value, for_tracing=True)
        finally:
            dynamiq_utils.TRACING_REDACTED_KEYS, dynamiq_utils.TRACING_REDACTED_PLACEHOLDER = keys, placeholder
    assert ours == {"api_key": "[hidden]", "nested": [{"api_key": "[hidden]", "kept": 1}]}


class DataProtocol(typing.Protocol):
    name: str


@pytest.mark.parametrize(
    "options",
    [
        {"skip_format_types": {"not a class"}},
        {"force_format_types": {"not a class"}},
        {"skip_format_types": {typing.Any}},
        {"skip_format_types": {typing.runtime_checkable(DataProtocol)}},
        {"skip_format_types": "iterator"},
    ],
    ids=["text in skip", "text in force", "typing.Any", "data protocol", "an iterator"],
)
@pytest.mark.parametrize("value", [5, {"a": 1}, [1, "x"]], ids=["scalar", "dict", "list"])
def test_odd_skip_and_force_types_get_dynamiqs_own_answer(options: dict[str, Any], value: Any) -> None:
    def outcome(format_value: Any) -> Any:
        arguments = {key: iter([dict]) if item == "iterator" else item for key, item in options.items()}
        try:
            result = format_value(value, **arguments)
        except Exception as exc:
            return ("raised", type(exc))
        return ("returned", shape(result), result is value)

    expected = outcome(dynamiq_utils.format_value)
    with ds.instrumentation(tracer_provider=TracerProvider()):
        assert outcome(dynamiq_utils.format_value) == expected


def test_a_format_value_of_another_signature_is_left_to_itself() -> None:
    """A user's replacement taking other arguments is called as the user's code calls it, never re-bound."""
    original = dynamiq_utils.format_value

    def replacement(value: Any, **kwargs: Any) -> Any:
        return ("replaced", value, kwargs)

    dynamiq_utils.format_value = replacement
    try:
        with ds.instrumentation(tracer_provider=TracerProvider()):
            formatted = dynamiq_utils.format_value({"a": 1}, for_tracing=True)
        assert formatted == ("replaced", {"a": 1}, {"for_tracing": True})
    finally:
        dynamiq_utils.format_value = original


@pytest.mark.parametrize("module", MODULES_HOLDING_FORMAT_VALUE)
def test_uninstrument_restores_format_value_everywhere(module: str) -> None:
    holder = importlib.import_module(module)
    original = holder.__dict__["format_value"]
    with ds.instrumentation(tracer_provider=TracerProvider()):
        assert holder.__dict__["format_value"] is not original
    assert holder.__dict__["format_value"] is original
