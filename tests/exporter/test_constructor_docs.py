"""Every argument of the exporter's public constructor is documented: what it does, its default, its variable."""

from __future__ import annotations

import inspect
import re

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq import environment_variables as env

WITHOUT_VARIABLE = {"session_id", "meter_provider", "span_notes"}
"""Per exporter or per application by nature: no environment variable sets them."""


def documented_arguments() -> dict[str, str]:
    """Each ``name:`` entry of the ``Args:`` section, with its text."""
    doc = inspect.getdoc(DynamiqSpanExporter.__init__) or ""
    section = doc.split("Args:", 1)[1]
    entries = re.split(r"^    (\w+): ", section, flags=re.MULTILINE)[1:]
    return {name: " ".join(text.split()) for name, text in zip(entries[::2], entries[1::2], strict=True)}


def test_every_constructor_argument_is_documented_with_its_default_and_variable() -> None:
    parameters = [name for name in inspect.signature(DynamiqSpanExporter.__init__).parameters if name != "self"]
    documented = documented_arguments()
    assert list(documented) == parameters  # all of them, in the signature's order
    variables = {value for name, value in vars(env).items() if name.isupper() and isinstance(value, str)}
    for name, text in documented.items():
        assert "Default" in text or "default" in text, name
        named = set(re.findall(r"``([A-Z][A-Z_]+)``", text)) & variables
        if name in WITHOUT_VARIABLE:
            assert "No variable" in text, name
        else:
            assert named, f"{name} names no environment variable"
