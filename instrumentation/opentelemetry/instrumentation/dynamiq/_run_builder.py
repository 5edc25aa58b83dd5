"""A private copy of Dynamiq's run-building logic, bound once at ``instrument()``.

Native runs are built by ``TracingCallbackHandler``. To build the same runs
we call that class's own methods, but on an object Dynamiq never sees: it is
in no ``RunnableConfig``, so no ``isinstance`` check in Dynamiq or in user
code meets it, and Dynamiq serializes nothing extra on its behalf.

The methods are taken from the class when the builder class is made, not
looked up at call time, so a later patch of ``TracingCallbackHandler`` (a
test's ``mock.patch``, a user's monkeypatch) reaches only the handlers the
application made itself. ``flush`` does nothing: runs leave through spans.
"""

from __future__ import annotations

from typing import Any

from dynamiq.callbacks.tracing import TracingCallbackHandler

_BORROWED_HELPERS = ("_get_node_base_run", "_canceled_message")
"""Handler methods that the callbacks call through ``self``."""


def _borrowed_methods() -> dict[str, Any]:
    own = vars(TracingCallbackHandler)
    methods = {name: own[name] for name in own if name.startswith("on_")}
    methods.update({name: own[name] for name in _BORROWED_HELPERS if name in own})
    return methods


def _no_flush(self: Any) -> None:
    """Never posts: the run goes onto its span instead."""


def make_run_builder() -> Any:
    """A fresh builder whose methods are the native handler's methods as they are now."""
    namespace = {**_borrowed_methods(), "flush": _no_flush, "__module__": __name__}
    builder_class = type("RunBuilder", (TracingCallbackHandler,), namespace)
    return builder_class()
