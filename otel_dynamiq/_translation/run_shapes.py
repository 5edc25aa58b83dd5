"""What a Dynamiq node run of each group shows, built from GenAI and OpenInference spans.

Pure functions, no I/O. Dynamiq's own runs have a shape per node group: an
LLM run carries the prompt messages, an ``{"content", "tool_calls"}`` output,
the model and token usage; an embedder takes ``{"query"}`` and answers with
the embedding; a tool takes its arguments and answers ``{"content"}``; a
retriever answers ``{"documents": [...]}``. A span from another
instrumentation that describes the same thing becomes a run of the same
shape, so it reads the same in Dynamiq as a node of Dynamiq's own. Every
attribute used here is removed from the span's attributes, because what is
left goes to ``metadata.otel`` and nothing should travel twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from opentelemetry.trace import SpanKind

from otel_dynamiq import attributes as attr
from otel_dynamiq._translation import llm_content as genai
from otel_dynamiq._translation import vercel_ai as vercel

OPENINFERENCE_KIND = "openinference.span.kind"
OPENINFERENCE_GROUPS = MappingProxyType(
    {
        **{kind: group for group, kind in attr.OPENINFERENCE_KIND_BY_GROUP.items()},
        "CHAIN": "operators",
        "GUARDRAIL": "validators",
        "EVALUATOR": "validators",
        "PROMPT": "utils",
    }
)
GENAI_OPERATION_GROUPS = MappingProxyType(
    {
        **{operation: group for group, operation in attr.GEN_AI_OPERATION_BY_GROUP.items()},
        "text_completion": "llms",
        "generate_content": "llms",
        "create_agent": "agents",
        "agent_step": "agents",  # the Vercel AI SDK's steps of an agent's loop (``step N``)
        "retrieval": "retrievers",
        # LiteLLM's "otel" callback names the call type.
        "embedding": "embedders",
        "completion": "llms",
    }
)
LLM_REQUEST_TYPE = "llm.request.type"
"""OpenLLMetry's (and LiteLLM's) call type: more exact than ``gen_ai.operation.name`` where both are set."""
LLM_REQUEST_TYPE_GROUPS = MappingProxyType(
    {
        "chat": "llms",
        "completion": "llms",
        "acompletion": "llms",
        "embedding": "embedders",
        "aembedding": "embedders",
        "rerank": "rankers",
    }
)
TRACELOOP_SPAN_KIND = "traceloop.span.kind"
"""OpenLLMetry's decorators (``@workflow``, ``@task``, ``@agent``, ``@tool``) name what the span is."""
TRACELOOP_GROUPS = MappingProxyType({"workflow": "operators", "task": "operators", "agent": "agents", "tool": "tools"})
MODEL_CALL_KINDS = frozenset({"LLM", "EMBEDDING"})
MODEL_CALL_OPERATIONS = frozenset(
    {"chat", "text_completion", "generate_content", "embeddings", "embedding", "completion"}
)
EMBEDDING_TRACE_LIMIT = genai.EMBEDDING_TRACE_LIMIT

_MODEL_KEYS = MappingProxyType(
    {
        "llms": (attr.GEN_AI_REQUEST_MODEL, "llm.model_name"),
        "embedders": (attr.GEN_AI_REQUEST_MODEL, "embedding.model_name", "llm.model_name"),
        "rankers": ("reranker.model_name", attr.GEN_AI_REQUEST_MODEL),
        "agents": (attr.GEN_AI_REQUEST_MODEL, "llm.model_name"),
    }
)
_ALWAYS_MODELLED = frozenset({"llms", "embedders", "rankers"})
_FLATTENED_MESSAGES = ("llm.input_messages.", "llm.output_messages.", "gen_ai.prompt.", "gen_ai.completion.")
_PROVIDER_KEYS = (attr.GEN_AI_PROVIDER_NAME, attr.GEN_AI_SYSTEM, "llm.provider", "llm.system")
_LITELLM_MODEL = "litellm.provider.model"
_NAME_KEYS = MappingProxyType(
    {"tools": ("tool.name", "gen_ai.tool.name"), "agents": ("agent.name", "gen_ai.agent.name")}
)
_DESCRIPTION_KEYS = MappingProxyType({"tools": ("tool.description", "gen_ai.tool.description")})


@dataclass
class AiRun:
    """The parts of a run that depend on what kind of AI step the span describes."""

    group: str
    node: dict[str, Any]
    input: Any = None
    output: Any = None
    user_metadata: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    used_events: set[int] = field(default_factory=set)
    tools: Any = None
    """The tools offered (``gen_ai.tool.definitions``): schemas, added to the input after it is masked."""
    """``id()`` of the span events that became content, left out of ``metadata.otel.events``."""


def node_group(attributes: Mapping[str, Any]) -> str | None:
    """The Dynamiq node group a span belongs to, or None for spans that are not AI steps."""
    kind = attributes.get(OPENINFERENCE_KIND)
    if kind is not None:
        return OPENINFERENCE_GROUPS.get(str(kind), "utils")
    vercel_operation = attributes.get(vercel.OPERATION_ID)
    if vercel_operation is not None:
        return vercel.group(str(vercel_operation))
    request_type = attributes.get(LLM_REQUEST_TYPE)
    if request_type is not None and request_type in LLM_REQUEST_TYPE_GROUPS:
        return LLM_REQUEST_TYPE_GROUPS[request_type]
    operation = attributes.get(attr.GEN_AI_OPERATION_NAME)
    if operation is not None:
        return GENAI_OPERATION_GROUPS.get(str(operation), "llms")
    traceloop_kind = attributes.get(TRACELOOP_SPAN_KIND)
    if traceloop_kind is not None and traceloop_kind in TRACELOOP_GROUPS:
        return TRACELOOP_GROUPS[traceloop_kind]
    if "gen_ai.agent.name" in attributes:  # an agent that names itself and no operation
        return "agents"
    if any(key.startswith(attr.GEN_AI_PREFIX) for key in attributes):
        return "llms"
    return None


def is_model_call(attributes: Mapping[str, Any]) -> bool:
    """Whether a span, as its attributes stand when it starts, is one call of a model (chat or embedding).

    Spans started inside such a span describe the same call again (a client
    instrumentation under a Dynamiq LLM node, or under another instrumentation
    of the same client), so their usage must not be counted a second time.
    """
    if attributes.get(OPENINFERENCE_KIND) in MODEL_CALL_KINDS:
        return True
    return (
        attributes.get(attr.GEN_AI_OPERATION_NAME) in MODEL_CALL_OPERATIONS
        or attributes.get(LLM_REQUEST_TYPE) in LLM_REQUEST_TYPE_GROUPS
    )


USAGE_COUNTING_GROUPS = frozenset({"llms", "embedders", "rankers"})
"""The groups whose runs are model calls: their usage is what a trace's total adds up."""


def is_usage_aggregate(group: str | None, model_call: bool, kind: SpanKind, calls_below: bool) -> bool:
    """Whether usage on a span is the total of model calls traced under it, not a call of its own.

    Agents (``invoke_agent``, OpenInference ``AGENT``), their steps, chains,
    workflows and tools that report usage report what their model calls used,
    and those calls are spans of their own in the same trace: counting both
    counts twice. A span that is a model call by the conventions always counts.
    Where the marker saw a model call start under a span (``calls_below``), the
    span is a total whatever it says it is. Otherwise the conventions decide,
    from the span alone, the same in-process and at the gateway: a non-model
    group is a total, except as a CLIENT span, which the conventions make a
    call to a remote agent whose model calls are in another service's trace.
    """
    if model_call:
        return False
    if calls_below:
        return True
    return group is not None and group not in USAGE_COUNTING_GROUPS and kind is not SpanKind.CLIENT


def _pop_first(attributes: dict[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in attributes:
            value = attributes.pop(key)
            if value is not None and value != "":
                return value
    return None


INPUT_KEYS = (attr.OPENINFERENCE_INPUT, attr.OPENINFERENCE_INPUT_MIME)
OUTPUT_KEYS = (attr.OPENINFERENCE_OUTPUT, attr.OPENINFERENCE_OUTPUT_MIME)


def take_value(attributes: dict[str, Any], value_key: str, mime_key: str) -> tuple[bool, Any]:
    """OpenInference's ``input.value``/``output.value``: JSON when the mime type says so."""
    if value_key not in attributes:
        attributes.pop(mime_key, None)
        return False, None
    value = attributes.pop(value_key)
    if attributes.pop(mime_key, None) == "application/json":
        return True, genai.parse_json_text(value)
    return True, value


def _drop_value(attributes: dict[str, Any], value_key: str, mime_key: str) -> None:
    attributes.pop(value_key, None)
    attributes.pop(mime_key, None)


def shape_ai_run(
    span_name: str,
    group: str,
    attributes: dict[str, Any],
    span_events: Sequence[Any],
    content_events: Sequence[genai.ContentEvent],
) -> AiRun:
    node: dict[str, Any] = {"name": span_name, "group": group}
    run = AiRun(group=group, node=node)
    from_vercel = vercel.OPERATION_ID in attributes
    if from_vercel:
        vercel.rename(attributes)
    name = _pop_first(attributes, _NAME_KEYS.get(group, ()))
    if name is not None:
        node["name"] = str(name)
    description = _pop_first(attributes, _DESCRIPTION_KEYS.get(group, ()))
    if description is not None:
        node["description"] = description
    if group in _MODEL_KEYS:
        model = _model(attributes, _MODEL_KEYS[group])
        if model is not None or group in _ALWAYS_MODELLED:  # an agent names its model only when it has one
            node["model"] = model
    provider = _pop_first(attributes, _PROVIDER_KEYS)
    for key in _PROVIDER_KEYS:  # the previous name beside the current one, saying the same
        if provider is not None and attributes.get(key) == provider:
            del attributes[key]
    if provider is None and _LITELLM_MODEL in attributes:  # LiteLLM names no provider for embeddings
        prefix, slash, _ = str(attributes[_LITELLM_MODEL]).partition("/")
        provider = prefix if slash else None
    if provider is not None or group in ("llms", "embedders"):
        node["provider"] = provider
    if from_vercel:
        run.input, run.output = vercel.shape(group, attributes)
    _SHAPERS.get(group, _shape_plain)(run, attributes, span_events, content_events)
    _user_metadata(run, attributes)
    return run


def _model(attributes: dict[str, Any], keys: Sequence[str]) -> Any:
    """The model asked for, as Dynamiq shows the configured one; the answering model only if none was named."""
    model = _pop_first(attributes, keys)
    response_model = attributes.get(attr.GEN_AI_RESPONSE_MODEL)
    if model is None:
        model = attributes.pop(attr.GEN_AI_RESPONSE_MODEL, None)
    elif response_model == model:
        del attributes[attr.GEN_AI_RESPONSE_MODEL]
    if model is None:  # a failed OpenInference call records the model only among the request's parameters
        parameters = genai.parse_json_text(
            attributes.get("llm.invocation_parameters") or attributes.get("embedding.invocation_parameters")
        )
        if isinstance(parameters, Mapping):
            model = parameters.get("model")
    return model


def _shape_llm(
    run: AiRun, attributes: dict[str, Any], span_events: Sequence[Any], content_events: Sequence[genai.ContentEvent]
) -> None:
    messages: list[genai.Message] | None = None
    output: dict[str, Any] | None = None
    # One look for any flattened message first: most LLM spans carry none, and each form costs a pass.
    if any(key.startswith(_FLATTENED_MESSAGES) for key in attributes):
        flattened = genai.take_indexed_many(attributes, _FLATTENED_MESSAGES)
        oi_input, oi_output, prompt, completion = (flattened[prefix] for prefix in _FLATTENED_MESSAGES)
        messages = genai.messages_from_openinference(oi_input) or genai.messages_from_indexed_genai(prompt)
        output = genai.output_of(genai.messages_from_openinference(oi_output)) or genai.output_from_indexed(completion)

    if attr.GEN_AI_INPUT_MESSAGES in attributes or attr.GEN_AI_OUTPUT_MESSAGES in attributes:
        parts_input = genai.messages_from_parts(
            attributes.pop(attr.GEN_AI_INPUT_MESSAGES, None),
            system_instructions=attributes.pop(attr.GEN_AI_SYSTEM_INSTRUCTIONS, None),
        )
        parts_output = genai.output_of(genai.messages_from_parts(attributes.pop(attr.GEN_AI_OUTPUT_MESSAGES, None)))
        # The parts form is the richer one where an instrumentation sets both (LiteLLM does), except
        # that LiteLLM leaves the tool calls out of it and gives them as gen_ai.completion.N.function_call.
        messages, output = parts_input or messages, genai.richer_output(parts_output, output)

    if content_events and (messages is None or output is None):
        from_events = genai.messages_from_events(content_events)
        messages, output = messages or from_events.messages, output or from_events.output

    for event in span_events:
        if event.name == genai.PROMPT_SPAN_EVENT:
            run.used_events.add(id(event))
            messages = messages or genai.messages_from_span_event((event.attributes or {}).get("gen_ai.prompt"))
        elif event.name == genai.COMPLETION_SPAN_EVENT:
            run.used_events.add(id(event))
            output = output or genai.output_of(
                genai.messages_from_span_event((event.attributes or {}).get("gen_ai.completion"))
            )

    # The raw request and response repeat the messages: parsed only when they stand in for missing ones.
    if messages is not None:
        _drop_value(attributes, *INPUT_KEYS)
        run.input = {"messages": messages}
        run.tools = genai.parse_json_text(attributes.pop(_TOOL_DEFINITIONS, None))
    elif run.input is None:
        has_input, raw_input = take_value(attributes, *INPUT_KEYS)
        run.input = raw_input if has_input else None
    if output is not None:
        _drop_value(attributes, *OUTPUT_KEYS)
        run.output = output
    elif run.output is None:
        has_output, raw_output = take_value(attributes, *OUTPUT_KEYS)
        run.output = raw_output if has_output else None


def _document(fields: Mapping[str, Any], vector_key: str | None = None) -> dict[str, Any]:
    """A document as Dynamiq's ``Document.to_dict(for_tracing=True)`` shows it."""
    metadata = genai.parse_json_text(fields.get("document.metadata"))
    embedding = fields.get(vector_key) if vector_key else None
    return {
        "id": fields.get("document.id"),
        "content": fields.get("document.content"),
        "metadata": metadata if metadata is not None else {},
        "embedding": _truncated(embedding),
        "score": fields.get("document.score"),
    }


def _truncated(vector: Any) -> list[Any] | None:
    if vector is None:
        return None
    return list(vector)[:EMBEDDING_TRACE_LIMIT]


def _shape_embedder(
    run: AiRun, attributes: dict[str, Any], span_events: Sequence[Any], content_events: Sequence[genai.ContentEvent]
) -> None:
    if run.input is not None:  # shaped already (the Vercel AI SDK's)
        return
    if any(key in attributes for key in vercel.EMBEDDING_KEYS):  # AI SDK 7's GenAI spans, `embedding: true`
        run.input, run.output = vercel.shape("embedders", attributes)
        if run.input is not None:
            return
    embeddings = genai.take_indexed(attributes, "embedding.embeddings.")
    texts = [fields.get("embedding.text") for fields in embeddings.values()]
    if not embeddings or any(text is None for text in texts):
        texts = _embedded_texts(attributes, content_events)
        if texts:
            run.input = {"query": texts[0]} if len(texts) == 1 else {"documents": [{"content": text} for text in texts]}
            _drop_value(attributes, *INPUT_KEYS)
        _shape_plain(run, attributes, span_events, content_events)
        return
    _drop_value(attributes, *INPUT_KEYS)  # the request: the texts again
    _drop_value(attributes, *OUTPUT_KEYS)  # the full vectors again
    vectors = [_truncated(fields.get("embedding.vector")) for fields in embeddings.values()]
    if len(texts) == 1:  # a text embedder's run
        run.input = {"query": texts[0]}
        run.output = {"embedding": vectors[0], "query": texts[0]}
    else:  # a document embedder's run
        run.input = {"documents": [{"content": text} for text in texts]}
        run.output = {
            "documents": [{"content": text, "embedding": vector} for text, vector in zip(texts, vectors, strict=True)]
        }


def _embedded_texts(attributes: dict[str, Any], content_events: Sequence[genai.ContentEvent]) -> list[Any]:
    """The texts OpenLLMetry and LiteLLM record for an embedding call: as input messages, indexed prompts or events.

    They record no vectors on the span, so such a run has an input and no output.
    """
    messages: list[genai.Message] | None = None
    if attr.GEN_AI_INPUT_MESSAGES in attributes:
        messages = genai.messages_from_parts(attributes.pop(attr.GEN_AI_INPUT_MESSAGES))
    elif any(key.startswith("gen_ai.prompt.") for key in attributes):
        messages = genai.messages_from_indexed_genai(genai.take_indexed(attributes, "gen_ai.prompt."))
    elif content_events:
        messages = genai.messages_from_events(
            [event for event in content_events if event.name != genai.CHOICE_EVENT]
        ).messages
    return [message.get("content") for message in messages or ()]


def _shape_tool(
    run: AiRun, attributes: dict[str, Any], span_events: Sequence[Any], content_events: Sequence[genai.ContentEvent]
) -> None:
    arguments = attributes.pop("gen_ai.tool.call.arguments", None)
    result = attributes.pop("gen_ai.tool.call.result", None)
    has_input, raw_input = take_value(attributes, *INPUT_KEYS)
    has_output, raw_output = take_value(attributes, *OUTPUT_KEYS)
    if arguments is not None or has_input:
        run.input = genai.parse_json_text(arguments if arguments is not None else raw_input)
    if result is not None or has_output:
        value = genai.parse_json_text(result if result is not None else raw_output)
        run.output = value if isinstance(value, Mapping) and "content" in value else {"content": value}


def _shape_retriever(
    run: AiRun, attributes: dict[str, Any], span_events: Sequence[Any], content_events: Sequence[genai.ContentEvent]
) -> None:
    documents = genai.take_indexed(attributes, "retrieval.documents.")
    has_input, query = take_value(attributes, *INPUT_KEYS)
    if isinstance(query, Mapping):
        run.input = dict(query)
    elif has_input:
        run.input = {"query": query}
    has_output, raw_output = take_value(attributes, *OUTPUT_KEYS)
    if documents:
        run.output = {"documents": [_document(fields) for fields in documents.values()]}
    elif has_output:
        run.output = raw_output


def _shape_ranker(
    run: AiRun, attributes: dict[str, Any], span_events: Sequence[Any], content_events: Sequence[genai.ContentEvent]
) -> None:
    given = genai.take_indexed(attributes, "reranker.input_documents.")
    kept = genai.take_indexed(attributes, "reranker.output_documents.")
    query = attributes.pop("reranker.query", None)
    if given or query is not None:
        run.input = {"query": query, "documents": [_document(fields) for fields in given.values()]}
        _drop_value(attributes, *INPUT_KEYS)
    if kept:
        run.output = {"documents": [_document(fields) for fields in kept.values()]}
        _drop_value(attributes, *OUTPUT_KEYS)
    if run.input is None and run.output is None:
        _shape_plain(run, attributes, span_events, content_events)


_Messages = list[genai.Message]
_PYDANTIC_AI_MESSAGES = "pydantic_ai.all_messages"
_PYDANTIC_AI_NEW_MESSAGES = "pydantic_ai.new_message_index"
_PYDANTIC_AI_RESULT = "final_result"
_TOOL_DEFINITIONS = "gen_ai.tool.definitions"


def _shape_agent(
    run: AiRun, attributes: dict[str, Any], span_events: Sequence[Any], content_events: Sequence[genai.ContentEvent]
) -> None:
    """What the agent was asked and answered: GenAI messages, pydantic-ai's, or OpenInference's values.

    Dynamiq's agent runs take ``{"input"}`` and answer ``{"content"}``; the
    conversation behind them (system instructions, tool calls, the tools'
    answers) is kept as ``input.messages`` and ``output.messages``.
    """
    system = attributes.pop(attr.GEN_AI_SYSTEM_INSTRUCTIONS, None)
    given = attributes.pop(attr.GEN_AI_INPUT_MESSAGES, None)
    answered = genai.messages_from_parts(attributes.pop(attr.GEN_AI_OUTPUT_MESSAGES, None))
    everything = genai.messages_from_parts(attributes.pop(_PYDANTIC_AI_MESSAGES, None))
    first_new = attributes.pop(_PYDANTIC_AI_NEW_MESSAGES, 0)
    first_new = first_new if isinstance(first_new, int) and not isinstance(first_new, bool) else 0
    asked = genai.messages_from_parts(given, system_instructions=system) if given is not None else None
    if asked is None and everything is not None:  # pydantic-ai: the run's whole conversation in one list
        asked, answered = _split_conversation(everything, first_new)
        if system is not None:
            asked = (genai.messages_from_parts([], system_instructions=system) or []) + asked
    has_input, value = take_value(attributes, *INPUT_KEYS)
    has_output, result = take_value(attributes, *OUTPUT_KEYS)
    if asked:
        run.input = {"input": _last_user_text(asked, value if has_input else None), "messages": asked}
    elif has_input:
        run.input = dict(value) if isinstance(value, Mapping) else {"input": value}
    run.tools = genai.parse_json_text(attributes.pop(_TOOL_DEFINITIONS, None))
    final = attributes.pop(_PYDANTIC_AI_RESULT, None)
    if final is not None:
        run.output = {"content": _structured(final)}
    elif answered:
        run.output = {"content": _final_text(answered)}
    elif has_output:
        run.output = dict(result) if isinstance(result, Mapping) else {"content": result}
    if answered and run.output is not None:
        run.output["messages"] = answered


def _split_conversation(messages: _Messages, first_new: int) -> tuple[_Messages, _Messages]:
    """What the agent was given (history and the new request) and what it added, split at its first answer."""
    for index in range(max(first_new, 0), len(messages)):
        if messages[index].get("role") not in ("system", "user"):
            return messages[:index], messages[index:]
    return messages, []


def _last_user_text(messages: list[genai.Message], fallback: Any) -> Any:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message.get("content")
    return fallback


def _final_text(messages: list[genai.Message]) -> Any:
    """The agent's answer: the text of its last assistant message (its tool calls are in ``messages``)."""
    for message in reversed(messages):
        if message.get("role") == "assistant" and message.get("content") is not None:
            return message["content"]
    return None


def _structured(value: Any) -> Any:
    """A structured result (JSON text of an object or array) parsed; a text answer stays text, even ``"4"``."""
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        return genai.parse_json_text(value)
    return value


def _shape_plain(
    run: AiRun, attributes: dict[str, Any], span_events: Sequence[Any], content_events: Sequence[genai.ContentEvent]
) -> None:
    """A chain, a guardrail or an unknown kind: its input and output as they were given."""
    if run.input is None:
        has_input, value = take_value(attributes, *INPUT_KEYS)
        run.input = value if has_input else None
    if run.output is None:
        has_output, value = take_value(attributes, *OUTPUT_KEYS)
        run.output = value if has_output else None


def _user_metadata(run: AiRun, attributes: dict[str, Any]) -> None:
    """OpenInference's ``metadata`` and ``tag.tags`` are what a Dynamiq user passes as metadata and tags."""
    metadata = genai.parse_json_text(attributes.get("metadata"))
    if isinstance(metadata, Mapping):
        del attributes["metadata"]
        run.user_metadata = dict(metadata)
    tags = attributes.pop("tag.tags", None)
    if isinstance(tags, (list, tuple)):
        run.tags = [str(tag) for tag in tags]


_Shaper = Callable[[AiRun, dict[str, Any], Sequence[Any], Sequence[genai.ContentEvent]], None]
_SHAPERS: Mapping[str, _Shaper] = MappingProxyType(
    {
        "llms": _shape_llm,
        "embedders": _shape_embedder,
        "tools": _shape_tool,
        "retrievers": _shape_retriever,
        "rankers": _shape_ranker,
        "agents": _shape_agent,
    }
)
