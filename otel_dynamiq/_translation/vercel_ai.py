"""The Vercel AI SDK's ``ai.*`` span attributes, read as the GenAI conventions and Dynamiq's run shapes.

Pure functions, no I/O. The SDK (``experimental_telemetry``) traces each
call twice over: the call the application made (``ai.generateText``,
``ai.streamText``, ``ai.embed``, ...) and, inside it, one span per request to
the provider (``ai.generateText.doGenerate``, ``.doStream``, ``.doEmbed``).
The outer span's usage is the call's total over all its steps, so it is the
one counted; the provider requests keep theirs visible under
``metadata.otel.usage``. Names of models, providers, usage and tools are
renamed to their GenAI equivalents, so the common code reads them; the
content (prompt, messages, answer, tool calls, embeddings) is shaped here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from otel_dynamiq import attributes as attr
from otel_dynamiq._translation import llm_content as genai
from otel_dynamiq._translation import media

OPERATION_ID = "ai.operationId"
EMBEDDING_KEYS = ("ai.value", "ai.values", "ai.embedding", "ai.embeddings")
"""Where the SDK records what it embedded; AI SDK 7 writes them on its GenAI ``embeddings`` spans too."""
_PROVIDER_REQUESTS = (".doGenerate", ".doStream", ".doEmbed", ".doRerank")
_GROUPS = MappingProxyType(
    {
        "ai.generateText": "llms",
        "ai.streamText": "llms",
        "ai.generateObject": "llms",
        "ai.streamObject": "llms",
        "ai.embed": "embedders",
        "ai.embedMany": "embedders",
        "ai.toolCall": "tools",
        "ai.rerank": "rankers",
    }
)
_RENAMES = (
    # (Vercel names, newest first; the GenAI name the common code reads)
    (("ai.model.id",), attr.GEN_AI_REQUEST_MODEL),
    (("ai.usage.inputTokens", "ai.usage.promptTokens", "ai.usage.tokens"), attr.GEN_AI_INPUT_TOKENS),
    (("ai.usage.outputTokens", "ai.usage.completionTokens"), attr.GEN_AI_OUTPUT_TOKENS),
    (("ai.usage.totalTokens",), attr.GEN_AI_TOTAL_TOKENS),
    (("ai.usage.inputTokenDetails.cacheReadTokens", "ai.usage.cachedInputTokens"), attr.GEN_AI_CACHE_READ_TOKENS),
    (("ai.usage.inputTokenDetails.cacheWriteTokens",), attr.GEN_AI_CACHE_CREATION_TOKENS),
    (("ai.usage.outputTokenDetails.reasoningTokens", "ai.usage.reasoningTokens"), attr.GEN_AI_REASONING_TOKENS),
    (("ai.toolCall.name",), "gen_ai.tool.name"),
    (("ai.toolCall.id",), "gen_ai.tool.call.id"),
    (("ai.toolCall.args", "ai.toolCall.input"), "gen_ai.tool.call.arguments"),
    (("ai.toolCall.result", "ai.toolCall.output"), "gen_ai.tool.call.result"),
)


def group(operation: str) -> str:
    """The node group of a Vercel span: its call's, for the provider requests inside a call too."""
    for suffix in _PROVIDER_REQUESTS:
        if operation.endswith(suffix):
            operation = operation[: -len(suffix)]
            break
    return _GROUPS.get(operation, "utils")


def rename(attributes: dict[str, Any]) -> None:
    """Vercel's names to the GenAI ones, in place; a provider request is marked as counted in its call."""
    operation = str(attributes.get(OPERATION_ID, ""))
    if operation.endswith(_PROVIDER_REQUESTS):
        attributes[attr.USAGE_COUNTED_IN_PARENT] = True
    for sources, target in _RENAMES:
        for source in sources:
            if source in attributes:
                value = attributes.pop(source)
                attributes.setdefault(target, value)  # the GenAI name, when also set, says the same
    provider = attributes.pop("ai.model.provider", None)
    if provider is not None:
        if attributes.get(attr.GEN_AI_SYSTEM) == provider:
            del attributes[attr.GEN_AI_SYSTEM]
        # "openai.chat", "openai.embedding": the provider, then which of its APIs.
        attributes[attr.GEN_AI_PROVIDER_NAME] = str(provider).split(".", 1)[0]


def shape(group: str, attributes: dict[str, Any]) -> tuple[Any, Any]:
    """The run's input and output from Vercel's content attributes (None where it carries none)."""
    if group == "llms":
        return _llm_input(attributes), _llm_output(attributes)
    if group == "embedders":
        return _embedding(attributes)
    return None, None


def _llm_input(attributes: dict[str, Any]) -> dict[str, Any] | None:
    """Content this cannot read (not JSON, not a list) is left in ``metadata.otel``, never dropped."""
    messages = genai.parse_json_text(attributes.get("ai.prompt.messages"))
    if isinstance(messages, list):
        del attributes["ai.prompt.messages"]
        return {"messages": _messages(messages)}
    prompt = genai.parse_json_text(attributes.pop("ai.prompt", None))
    if not isinstance(prompt, Mapping):
        return None if prompt is None else {"messages": [{"role": "user", "content": prompt}]}
    shaped: list[genai.Message] = []
    if prompt.get("system") is not None:
        shaped.append({"role": "system", "content": prompt["system"]})
    given = prompt.get("messages", prompt.get("prompt"))
    if isinstance(given, list):
        shaped += _messages(given)
    elif given is not None:
        shaped.append({"role": "user", "content": given})
    return {"messages": shaped}


def _messages(messages: Sequence[Any]) -> list[genai.Message]:
    shaped: list[genai.Message] = []
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        role, content = message.get("role"), message.get("content")
        if not isinstance(content, list):
            shaped.append({"role": role, "content": content})
            continue
        texts: list[Any] = []
        calls: list[dict[str, Any]] = []
        for part in content:
            kind = part.get("type") if isinstance(part, Mapping) else None
            if kind == "text":
                texts.append(part.get("text"))
            elif kind == "tool-call":
                calls.append(_tool_call(part))
            elif kind == "tool-result":  # one Dynamiq message per tool answer, as the OpenAI API has it
                result = _tool_result(part.get("output", part.get("result")))
                shaped.append({"role": "tool", "content": result, "tool_call_id": part.get("toolCallId")})
            else:
                described = media.from_vercel_part(part) if isinstance(part, Mapping) else None
                texts.append(described if described is not None else part)
        if texts or calls or role != "tool":
            entry: genai.Message = {"role": role, "content": genai.content_of(texts) if texts else None}
            if calls:
                entry["tool_calls"] = calls
            shaped.append(entry)
    return shaped


def _tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    arguments = call.get("input", call.get("args"))
    return genai.tool_call(call.get("toolCallId"), call.get("toolName"), arguments)


def _tool_result(output: Any) -> Any:
    """``{"type": "json"|"text", "value"}`` since SDK 5; the bare result before."""
    if isinstance(output, Mapping) and "value" in output and output.get("type") in ("json", "text"):
        return output["value"]
    return output


def _llm_output(attributes: dict[str, Any]) -> dict[str, Any] | None:
    text = attributes.pop("ai.response.text", None)
    calls = genai.parse_json_text(attributes.get("ai.response.toolCalls"))
    if isinstance(calls, list):
        del attributes["ai.response.toolCalls"]
    else:
        calls = None  # left in metadata.otel as it came
    structured = attributes.pop("ai.response.object", None)
    if text is None and calls is None and structured is not None:
        return {"content": genai.parse_json_text(structured)}
    if text is None and calls is None:
        return None
    output: dict[str, Any] = {"content": text}
    if isinstance(calls, list) and calls:
        output["tool_calls"] = [_tool_call(call) for call in calls if isinstance(call, Mapping)]
    return output


def _embedding(attributes: dict[str, Any]) -> tuple[Any, Any]:
    """One text as a text embedder's run, several as a document embedder's: vectors cut as Dynamiq cuts them."""
    value, vector = attributes.pop("ai.value", None), attributes.pop("ai.embedding", None)
    values, vectors = attributes.pop("ai.values", None), attributes.pop("ai.embeddings", None)
    if value is None and isinstance(values, (list, tuple)) and len(values) == 1:
        value = values[0]
        vector = vectors[0] if isinstance(vectors, (list, tuple)) and vectors else None
        values = vectors = None
    if value is not None:
        query = genai.parse_json_text(value)
        embedding = _cut(genai.parse_json_text(vector))
        return {"query": query}, ({"embedding": embedding, "query": query} if vector is not None else None)
    if not isinstance(values, (list, tuple)):
        return None, None
    texts = [genai.parse_json_text(text) for text in values]
    cut = [_cut(genai.parse_json_text(item)) for item in vectors] if isinstance(vectors, (list, tuple)) else []
    documents = [{"content": text} for text in texts]
    if len(cut) != len(texts):
        return {"documents": documents}, None
    return {"documents": documents}, {
        "documents": [{"content": text, "embedding": item} for text, item in zip(texts, cut, strict=True)]
    }


def _cut(vector: Any) -> Any:
    return list(vector)[: genai.EMBEDDING_TRACE_LIMIT] if isinstance(vector, (list, tuple)) else vector
