"""Span attribute names that carry a Dynamiq run.

The instrumentation writes these names and the exporter reads them, so both
import them from here: a rename can never leave one side behind. Structured
values (input, output, metadata, error, executions) travel as JSON text,
because OpenTelemetry attributes only hold primitives and flat sequences.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

RUN_TYPE: Final = "dynamiq.run.type"
"""``workflow``, ``flow`` or ``node``. Its presence marks a span as a Dynamiq run."""

RUN_ID: Final = "dynamiq.run.id"
"""Dynamiq's own run id (a UUID string), kept so a run can be matched to Dynamiq logs."""

RUN_NAME: Final = "dynamiq.run.name"
"""The run's name as Dynamiq shows it; the span name when absent."""

RUN_STATUS: Final = "dynamiq.run.status"
"""``succeeded``, ``failed``, ``skipped`` or ``canceled``."""

RUN_INPUT: Final = "dynamiq.run.input"
"""JSON text of the run's input."""

RUN_OUTPUT: Final = "dynamiq.run.output"
"""JSON text of the run's output."""

RUN_METADATA: Final = "dynamiq.run.metadata"
"""JSON text of an object: the run's metadata."""

RUN_ERROR: Final = "dynamiq.run.error"
"""JSON text of ``{"message": ..., "type": ..., "traceback": ...}``."""

RUN_EXECUTIONS: Final = "dynamiq.run.executions"
"""JSON text of a list of execution attempts (retries make several)."""

RUN_TAGS: Final = "dynamiq.run.tags"
"""A sequence of strings."""

SESSION_ID: Final = "dynamiq.session.id"
"""The Dynamiq session this run belongs to."""

RUN_TYPES: Final = frozenset({"workflow", "flow", "node"})
RUN_STATUSES: Final = frozenset({"succeeded", "failed", "skipped", "canceled"})

JSON_ATTRIBUTES: Final = (RUN_INPUT, RUN_OUTPUT, RUN_METADATA, RUN_ERROR, RUN_EXECUTIONS)
"""Attributes whose values are JSON text."""

# Dynamiq's node groups (``dynamiq.nodes.types.NodeGroup`` values): a node run's ``metadata.node.group``.
GROUP_LLMS: Final = "llms"
GROUP_EMBEDDERS: Final = "embedders"
GROUP_TOOLS: Final = "tools"
GROUP_RETRIEVERS: Final = "retrievers"
GROUP_RANKERS: Final = "rankers"
GROUP_AGENTS: Final = "agents"

OPENINFERENCE_KIND_BY_GROUP: Final[Mapping[str, str]] = MappingProxyType(
    {
        GROUP_LLMS: "LLM",
        GROUP_EMBEDDERS: "EMBEDDING",
        GROUP_TOOLS: "TOOL",
        GROUP_RETRIEVERS: "RETRIEVER",
        GROUP_RANKERS: "RERANKER",
        GROUP_AGENTS: "AGENT",
    }
)
"""The ``openinference.span.kind`` of a node of each group (any other node is a ``CHAIN``): the instrumentation
writes it, and the exporter reads a span of that kind as a node of that group, whoever made the span."""
GEN_AI_OPERATION_BY_GROUP: Final[Mapping[str, str]] = MappingProxyType(
    {GROUP_LLMS: "chat", GROUP_EMBEDDERS: "embeddings", GROUP_TOOLS: "execute_tool", GROUP_AGENTS: "invoke_agent"}
)
"""The ``gen_ai.operation.name`` of a node of each group that the GenAI conventions name, both ways as above."""

# Conventions of other instrumentations that the exporter also understands.
OPENINFERENCE_INPUT: Final = "input.value"
OPENINFERENCE_INPUT_MIME: Final = "input.mime_type"
OPENINFERENCE_OUTPUT: Final = "output.value"
OPENINFERENCE_OUTPUT_MIME: Final = "output.mime_type"
OPENINFERENCE_PROMPT_TOKENS: Final = "llm.token_count.prompt"
OPENINFERENCE_COMPLETION_TOKENS: Final = "llm.token_count.completion"
OPENINFERENCE_TOTAL_TOKENS: Final = "llm.token_count.total"
OPENINFERENCE_SESSION_ID: Final = "session.id"

GEN_AI_PREFIX: Final = "gen_ai."
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"
"""Deprecated predecessor of ``gen_ai.provider.name``, still emitted by many instrumentations."""
GEN_AI_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"
GEN_AI_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"
GEN_AI_TOTAL_TOKENS: Final = "gen_ai.usage.total_tokens"
"""Not in the GenAI conventions, but OpenLLMetry sets it (and the Vercel AI SDK's total is read as it)."""
GEN_AI_CACHE_READ_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_CACHE_CREATION_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_REASONING_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"

USAGE_CALLS_BELOW: Final = "dynamiq.usage.calls_below"
"""True on a span under which a model call started (``NestedCallMarker`` sets it while the span is live): usage
it reports is the total of those calls, shown and not counted again, whatever its kind or group."""
USAGE_COUNTED_IN_PARENT: Final = "dynamiq.usage.counted_in_parent"
"""True on a span started inside another span of the same LLM call (an instrumented client under a
Dynamiq LLM node, one client instrumentation under another): its usage is shown, not counted again."""
