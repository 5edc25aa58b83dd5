"""LLM content in the shapes a Dynamiq LLM run has, from every form instrumentations emit it in.

Pure functions, no I/O. The same conversation reaches us in five shapes: the
current GenAI ``parts`` messages (as span attributes or as the
``gen_ai.client.inference.operation.details`` event), the previous GenAI
per-message events (``gen_ai.user.message`` ... ``gen_ai.choice``), the older
``gen_ai.content.prompt``/``completion`` span events, the indexed
``gen_ai.prompt.N.*`` attributes, and OpenInference's flattened
``llm.input_messages.N.message.*``. Dynamiq's own LLM runs show messages as
``{"role", "content"}`` and an output of ``{"content", "tool_calls"}``, so
every form is brought to that, and a user reads one shape whatever produced it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson

from otel_dynamiq._translation import media

Message = dict[str, Any]

LEGACY_MESSAGE_EVENTS = MappingProxyType(
    {
        "gen_ai.system.message": "system",
        "gen_ai.user.message": "user",
        "gen_ai.assistant.message": "assistant",
        "gen_ai.tool.message": "tool",
    }
)
CHOICE_EVENT = "gen_ai.choice"
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
PROMPT_SPAN_EVENT = "gen_ai.content.prompt"
COMPLETION_SPAN_EVENT = "gen_ai.content.completion"
CONTENT_EVENT_NAMES = frozenset({*LEGACY_MESSAGE_EVENTS, CHOICE_EVENT, DETAILS_EVENT})
"""Log events that carry the content of the span they were emitted in."""


class ContentEvent(NamedTuple):
    """A GenAI log event, as the exporter keeps it until its span is exported."""

    name: str
    body: Any
    attributes: Mapping[str, Any]


class Conversation(NamedTuple):
    messages: list[Message] | None
    output: dict[str, Any] | None


def parse_json_text(value: Any) -> Any:
    """Attribute values hold JSON as text; anything that is not JSON stays as it was."""
    if isinstance(value, (str, bytes)):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


EMBEDDING_TRACE_LIMIT = 20
"""Dynamiq cuts embeddings in traces to their first 20 numbers; a run of ours shows as much."""


def tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    """A tool call as a Dynamiq LLM run shows it: arguments parsed when they are JSON."""
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": parse_json_text(arguments)},
    }


def _text_of(content: Any) -> Any:
    """Text parts joined into one string; with images or audio (OpenAI's parts), a list of typed parts."""
    if isinstance(content, (list, tuple)) and all(isinstance(part, Mapping) for part in content):
        texts = [part.get("text", part.get("content")) for part in content]
        if all(isinstance(text, str) for text in texts):
            return "".join(texts)
        pieces: list[Any] = []
        for part, text in zip(content, texts, strict=True):
            described = media.from_openai_part(part)
            pieces.append(described if described is not None else text if isinstance(text, str) else part)
        return content_of(pieces)
    return content


# The current GenAI convention: {"role", "parts": [...], "finish_reason"}.


def messages_from_parts(value: Any, *, system_instructions: Any = None) -> list[Message] | None:
    parsed = parse_json_text(value)
    if not isinstance(parsed, (list, tuple)):  # JSON text on a span; tuples of mappings in a log event
        return None
    messages: list[Message] = []
    instructions = parse_json_text(system_instructions)
    if isinstance(instructions, (list, tuple)) and instructions:
        messages.append({"role": "system", "content": _parts_text(instructions)})
    elif isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    for item in parsed:
        if not isinstance(item, Mapping):
            return None
        messages.extend(_messages_from_parts(item))
    return messages


def _parts_text(parts: Sequence[Any]) -> Any:
    texts = [part.get("content") for part in parts if isinstance(part, Mapping) and part.get("type") == "text"]
    if len(texts) == len(parts) and all(isinstance(text, str) for text in texts):
        return "".join(texts)  # type: ignore[arg-type]
    return list(parts)


def tool_answers_as_text(value: Any, redact: Callable[[Any], Any] | None = None) -> Any:
    """A run's input or output with every ``tool`` message's content as text; the value given is unchanged.

    The OpenAI API gives tools' answers to the model as strings, and producers
    disagree on the type (``4``, ``"4"``, ``[4]``, an object): one form for all.
    Applied to the finished run after masking, and an answer that arrived as
    JSON text is masked here too (``redact``), so no form of answer carries a
    secret that the tool's own run hides.
    """
    if not isinstance(value, dict) or not isinstance(value.get("messages"), list):
        return value
    messages = value["messages"]
    changed = [_tool_answer_as_text(message, redact) for message in messages]
    if all(new is old for new, old in zip(changed, messages, strict=True)):
        return value
    return {**value, "messages": changed}


def _tool_answer_as_text(message: Any, redact: Callable[[Any], Any] | None) -> Any:
    if not isinstance(message, dict) or message.get("role") != "tool":
        return message
    content = message.get("content")
    if content is None:
        return message
    if isinstance(content, str):
        if redact is None or not content.lstrip().startswith(("{", "[")):
            return message
        parsed = parse_json_text(content)
        if not isinstance(parsed, (dict, list)) or redact(parsed) is parsed:
            return message  # nothing in it to mask: the text stays as the producer wrote it
        content = redact(parsed)
    elif isinstance(content, list) and all(isinstance(piece, str) for piece in content):
        return {**message, "content": "".join(content)}
    try:
        text = orjson.dumps(content).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = str(content)
    return {**message, "content": text}


def content_of(pieces: list[Any]) -> Any:
    """Text pieces as one string; with media or other parts, a list of typed parts (text as ``{"type": "text"}``)."""
    if all(isinstance(piece, str) for piece in pieces):
        return "".join(pieces)
    return [{"type": "text", "text": piece} if isinstance(piece, str) else piece for piece in pieces]


def _messages_from_parts(item: Mapping[str, Any]) -> list[Message]:
    """One message, or one per tool answer: an answer is a ``tool`` message, whatever role carried it.

    pydantic-ai's message format 5 sends tools' answers as ``user`` messages; the OpenAI API and
    Dynamiq's runs have a ``tool`` message per answer, so every producer's answers read the same.
    """
    parts = item.get("parts")
    if not isinstance(parts, (list, tuple)):  # not the conventions' list: its value is what the message said
        return [{"role": item.get("role"), "content": parts}]
    message: Message = {"role": item.get("role"), "content": None}
    pieces: list[Any] = []
    calls: list[dict[str, Any]] = []
    answers: list[Message] = []
    for part in parts:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            pieces.append(part.get("content", part.get("text")))  # LiteLLM keeps OpenAI's "text" in its parts
        elif kind == "tool_call":
            calls.append(tool_call(part.get("id"), part.get("name"), part.get("arguments")))
        elif kind == "tool_call_response":
            answer = part.get("response", part.get("result"))
            answers.append({"role": "tool", "content": answer, "tool_call_id": part.get("id")})
        else:
            described = media.from_any_part(part) if isinstance(part, Mapping) else None
            pieces.append(described if described is not None else part)
    if pieces:
        message["content"] = content_of(pieces)
    if calls:
        message["tool_calls"] = calls
    if answers and not pieces and not calls:
        return answers
    return [message, *answers] if answers else [message]


# The previous GenAI convention: one log event per message, one per choice.


def messages_from_events(events: Iterable[ContentEvent]) -> Conversation:
    """Input and output from GenAI content events, in the order they were emitted."""
    inputs: list[Message] = []
    choices: list[Message] = []
    details: Conversation | None = None
    for event in events:
        body = event.body if isinstance(event.body, Mapping) else {}
        if event.name in LEGACY_MESSAGE_EVENTS:
            inputs.append(_legacy_message(LEGACY_MESSAGE_EVENTS[event.name], body))
        elif event.name == CHOICE_EVENT:
            message = body.get("message")
            message = message if isinstance(message, Mapping) else {}
            if "tool_calls" not in message and "tool_calls" in body:  # OpenLLMetry puts them beside the message
                message = {**message, "tool_calls": body["tool_calls"]}
            choices.append(_legacy_message("assistant", message))
        elif event.name == DETAILS_EVENT:
            attributes = event.attributes or {}
            details = Conversation(
                messages_from_parts(
                    attributes.get("gen_ai.input.messages"),
                    system_instructions=attributes.get("gen_ai.system_instructions"),
                ),
                output_of(messages_from_parts(attributes.get("gen_ai.output.messages"))),
            )
    if details is not None:
        return details
    return Conversation(inputs or None, output_of(choices) if choices else None)


def _legacy_message(role: str, body: Mapping[str, Any]) -> Message:
    message: Message = {"role": body.get("role") or role, "content": _text_of(body.get("content"))}
    calls = body.get("tool_calls")
    if isinstance(calls, (list, tuple)):
        message["tool_calls"] = [_legacy_tool_call(call) for call in calls if isinstance(call, Mapping)]
    if role == "tool" and body.get("id") is not None:
        message["tool_call_id"] = body.get("id")
    return message


def _legacy_tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    function = call.get("function")
    function = function if isinstance(function, Mapping) else {}
    return tool_call(call.get("id"), function.get("name"), function.get("arguments"))


# Flattened attributes: OpenInference's llm.input_messages.N.message.* and GenAI's older gen_ai.prompt.N.*.


def indexed(attributes: Mapping[str, Any], prefix: str) -> dict[int, dict[str, Any]]:
    """``prefix.N.rest`` attributes grouped by N, with ``rest`` as the key."""
    return _grouped(attributes, [key for key in attributes if key.startswith(prefix)], prefix)


def take_indexed(attributes: dict[str, Any], prefix: str) -> dict[int, dict[str, Any]]:
    """``indexed``, and every ``prefix.*`` attribute removed: it becomes a run field, not ``metadata.otel``."""
    keys = [key for key in attributes if key.startswith(prefix)]
    grouped = _grouped(attributes, keys, prefix)
    for key in keys:
        del attributes[key]
    return grouped


def take_indexed_many(attributes: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, dict[int, dict[str, Any]]]:
    """``take_indexed`` for several two-word prefixes, in one pass over the attributes."""
    found: dict[str, list[str]] = {prefix: [] for prefix in prefixes}
    for key in attributes:
        # Each prefix is two dotted words ("llm.input_messages."): the key's own first two words find it.
        keys = found.get(key[: key.find(".", key.find(".") + 1) + 1])
        if keys is not None:
            keys.append(key)
    taken = {prefix: _grouped(attributes, keys, prefix) for prefix, keys in found.items()}
    for keys in found.values():
        for key in keys:
            del attributes[key]
    return taken


_MAX_INDEX_DIGITS = 9
"""A message, tool call or document index past a billion is not one: such a key is left as it is."""


def _grouped(attributes: Mapping[str, Any], keys: list[str], prefix: str) -> dict[int, dict[str, Any]]:
    if not keys:
        return {}
    grouped: dict[int, dict[str, Any]] = {}
    start = len(prefix)
    for key in keys:
        index, _, rest = key[start:].partition(".")
        # ASCII digits only ("²" is a digit to str.isdigit, not to int), and few enough to be an index.
        if rest and index.isascii() and index.isdigit() and len(index) <= _MAX_INDEX_DIGITS:
            grouped.setdefault(int(index), {})[rest] = attributes[key]
    return dict(sorted(grouped.items())) if len(grouped) > 1 else grouped


def messages_from_openinference(grouped: Mapping[int, Mapping[str, Any]]) -> list[Message] | None:
    if not grouped:
        return None
    return [_openinference_message(fields) for fields in grouped.values()]


def _openinference_message(fields: Mapping[str, Any]) -> Message:
    content: Any = fields.get("message.content")
    if content is None:
        contents = indexed(fields, "message.contents.")
        if contents:
            content = content_of([_openinference_part(part) for part in contents.values()])
    message: Message = {"role": fields.get("message.role"), "content": content}
    calls = indexed(fields, "message.tool_calls.")
    if calls:
        message["tool_calls"] = [
            tool_call(
                call.get("tool_call.id"),
                call.get("tool_call.function.name"),
                call.get("tool_call.function.arguments"),
            )
            for call in calls.values()
        ]
    if fields.get("message.tool_call_id") is not None:
        message["tool_call_id"] = fields["message.tool_call_id"]
    return message


def _openinference_part(part: Mapping[str, Any]) -> Any:
    """``message_content.type`` ``text`` or ``image`` (its ``image.image.url``); other kinds as they came."""
    kind = part.get("message_content.type")
    if kind == "image" or (kind is None and "message_content.image.image.url" in part):
        return media.media_part(url=part.get("message_content.image.image.url"), modality="image")
    text = part.get("message_content.text")
    if isinstance(text, str):
        return text
    return {key.removeprefix("message_content."): value for key, value in part.items()}


def messages_from_indexed_genai(grouped: Mapping[int, Mapping[str, Any]]) -> list[Message] | None:
    """OpenLLMetry's ``gen_ai.prompt.N.*``/``gen_ai.completion.N.*``, with tool and function calls.

    The calls are ``tool_calls.M.{id,name,arguments}``; a tool's answer names
    its call in ``tool_call_id``; LiteLLM and older OpenLLMetry put one call
    per ``function_call.{name,arguments}``.
    """
    if not grouped:
        return None
    return [_indexed_message(fields) for fields in grouped.values()]


def output_from_indexed(grouped: Mapping[int, Mapping[str, Any]]) -> dict[str, Any] | None:
    """The answer from ``gen_ai.completion.N.*``; LiteLLM numbers its tool calls there, not its choices."""
    if grouped and all("role" not in fields and "function_call.name" in fields for fields in grouped.values()):
        return {"content": None, "tool_calls": [_function_call(fields) for fields in grouped.values()]}
    return output_of(messages_from_indexed_genai(grouped))


def _function_call(fields: Mapping[str, Any]) -> dict[str, Any]:
    """LiteLLM's and older OpenLLMetry's ``function_call.{name,arguments}``."""
    name, arguments = fields.get("function_call.name"), fields.get("function_call.arguments")
    return tool_call(fields.get("function_call.id"), name, arguments)


def richer_output(first: dict[str, Any] | None, second: dict[str, Any] | None) -> dict[str, Any] | None:
    """``first``, with the text or tool calls it lacks taken from ``second`` (two forms of one answer)."""
    if first is None or second is None:
        return first or second
    if first.get("content") is None and second.get("content") is not None:
        first = {**first, "content": second["content"]}
    if not first.get("tool_calls") and second.get("tool_calls"):
        first = {**first, "tool_calls": second["tool_calls"]}
    return first


def _indexed_message(fields: Mapping[str, Any]) -> Message:
    message: Message = {"role": fields.get("role"), "content": _text_of(fields.get("content"))}
    calls = [
        tool_call(call.get("id"), call.get("name"), call.get("arguments"))
        for call in indexed(fields, "tool_calls.").values()
    ]
    if not calls and "function_call.name" in fields:
        calls = [_function_call(fields)]
    if calls:
        message["tool_calls"] = calls
    if fields.get("tool_call_id") is not None:
        message["tool_call_id"] = fields["tool_call_id"]
    return message


def messages_from_span_event(value: Any) -> list[Message] | None:
    """``gen_ai.content.prompt``'s ``gen_ai.prompt``: a JSON list of messages, or plain text."""
    parsed = parse_json_text(value)
    if isinstance(parsed, list) and all(isinstance(item, Mapping) for item in parsed):
        return [_legacy_message(str(item.get("role") or "user"), item) for item in parsed]
    if isinstance(parsed, str):
        return [{"role": "user", "content": parsed}]
    return None


def output_of(messages: list[Message] | None) -> dict[str, Any] | None:
    """A Dynamiq LLM run's output: the answer's text and, when the model asked for tools, its calls."""
    if not messages:
        return None
    answer = messages[0]  # with several choices (n > 1) the first is the answer, as Dynamiq's LLM node takes it
    output: dict[str, Any] = {"content": answer.get("content")}
    if answer.get("tool_calls"):
        output["tool_calls"] = answer["tool_calls"]
    return output
