"""Every argument of the exporter's public constructor is documented: what it does, its default, its variable.

The keywords are the settings of ``_config.SETTINGS``, typed by ``ExporterOptions``; the ``Args:`` of the
constructor's docstring are made from the table. These tests keep the three in step.
"""

from __future__ import annotations

import inspect
import pydoc
import re

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq import environment_variables as env
from otel_dynamiq._config import SETTINGS, ExporterOptions

WITHOUT_VARIABLE = {"session_id", "meter_provider", "span_notes"}
"""Per exporter or per application by nature: no environment variable sets them."""


def documented_arguments() -> dict[str, str]:
    """Each ``name:`` entry of the ``Args:`` section, with its text."""
    doc = inspect.getdoc(DynamiqSpanExporter.__init__) or ""
    section = doc.split("Args:", 1)[1]
    entries = re.split(r"^    (\w+): ", section, flags=re.MULTILINE)[1:]
    return {name: " ".join(text.split()) for name, text in zip(entries[::2], entries[1::2], strict=True)}


def test_the_keywords_are_the_typed_settings_the_meter_provider_and_the_notes() -> None:
    parameters = inspect.signature(DynamiqSpanExporter.__init__).parameters
    assert list(parameters) == ["self", "meter_provider", "span_notes", "options"]
    assert parameters["meter_provider"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["span_notes"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["options"].kind is inspect.Parameter.VAR_KEYWORD
    assert parameters["options"].annotation == "Unpack[ExporterOptions]"


def test_the_typed_keywords_are_the_settings_in_the_tables_order() -> None:
    assert list(ExporterOptions.__annotations__) == [setting.keyword for setting in SETTINGS]
    assert not ExporterOptions.__required_keys__  # every one may be left out


def test_every_constructor_argument_is_documented_with_its_default_and_variable() -> None:
    documented = documented_arguments()
    assert list(documented) == [*ExporterOptions.__annotations__, "meter_provider", "span_notes"]  # all, in order
    variables = {value for name, value in vars(env).items() if name.isupper() and isinstance(value, str)}
    for name, text in documented.items():
        assert "Default" in text or "default" in text, name
        named = set(re.findall(r"``([A-Z][A-Z_]+)``", text)) & variables
        if name in WITHOUT_VARIABLE:
            assert "No variable" in text, name
        else:
            assert named, f"{name} names no environment variable"
    for setting in SETTINGS:
        text = documented[setting.keyword]
        assert all(f"``{variable}``" in text for variable in setting.variables), setting.keyword
        assert " ".join(setting.documented_default.split()) in text, setting.keyword


def test_help_shows_every_keyword_with_its_variables_and_default() -> None:
    shown = " ".join(pydoc.render_doc(DynamiqSpanExporter, renderer=pydoc.plaintext).replace("|", " ").split())
    for name, text in documented_arguments().items():
        assert f"{name}: {text}" in shown, name
