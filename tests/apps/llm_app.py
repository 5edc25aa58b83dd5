"""An application that calls an OpenAI-compatible server through real LLM instrumentations.

    llm_app.py LLM_URL openai [--manual INSTRUMENTATION]
    llm_app.py LLM_URL langchain [--manual INSTRUMENTATION]
    llm_app.py LLM_URL litellm --manual litellm-otel
    llm_app.py LLM_URL pydantic-ai --manual pydantic-ai

``openai`` calls the OpenAI client directly: chat, streamed chat with and
without usage, a failing call, embeddings and a tool call. ``langchain`` runs
a chain, a tool and a retriever through LangChain; ``litellm`` a chat, a tool
call, a failing call and embeddings through LiteLLM. Each scenario runs inside a
span named ``scenario <name>``, so the test finds its runs by their parent.

With ``--manual`` the app sets up the SDK itself, as a user does without
``opentelemetry-instrument``: a TracerProvider, the Dynamiq exporter (from the
environment) and one instrumentation, ``openai-v2``, ``openinference-openai``,
``openllmetry-openai`` (``-events``: its events mode), ``openinference-langchain``,
or two at once (``openai-v2+openinference-openai``). Without it, run it under
``opentelemetry-instrument``, which loads whatever is installed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from opentelemetry import trace


def manual_setup(instrumentation: str) -> Callable[[], None]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from otel_dynamiq import DynamiqSpanExporter

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DynamiqSpanExporter(), schedule_delay_millis=50))
    trace.set_tracer_provider(provider)
    if instrumentation == "openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    elif instrumentation == "openinference-openai":
        from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInferenceOpenAI

        OpenInferenceOpenAI().instrument()
    elif instrumentation in ("openllmetry-openai", "openllmetry-openai-events"):
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as OpenLLMetryOpenAI

        OpenLLMetryOpenAI(use_attributes=instrumentation == "openllmetry-openai").instrument()
    elif instrumentation == "openai-v2+openinference-openai":
        # Two instrumentations of one client, as a user who set both up by hand; the marker makes
        # the inner span's usage count in the outer one.
        from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInferenceOpenAI
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        from otel_dynamiq import NestedCallMarker

        provider.add_span_processor(NestedCallMarker())
        OpenAIInstrumentor().instrument()
        OpenInferenceOpenAI().instrument()
    elif instrumentation == "litellm-otel":
        import litellm

        # LiteLLM's own callback; its litellm_request span, not attributes written on the caller's span.
        os.environ["USE_OTEL_LITELLM_REQUEST_SPAN"] = "true"
        litellm.callbacks = ["otel"]
    elif instrumentation == "pydantic-ai":
        pass  # the app instruments its agents itself (Agent.instrument_all)
    elif instrumentation == "openinference-langchain":
        from openinference.instrumentation.langchain import LangChainInstrumentor

        LangChainInstrumentor().instrument()
    else:
        sys.exit(f"unknown instrumentation {instrumentation!r}")
    return provider.shutdown


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Adds two numbers a and b.",
            "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
        },
    }
]


@contextmanager
def scenario(name: str) -> Iterator[None]:
    with trace.get_tracer("tests.llm_app").start_as_current_span(f"scenario {name}"):
        yield


def openai_calls(url: str) -> None:
    import openai

    client = openai.OpenAI(api_key="sk-test-not-a-real-key", base_url=url, max_retries=0)
    with scenario("chat"):
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}],
        )
    with scenario("stream with usage"):
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hello there"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        for _ in stream:
            pass
    with scenario("stream without usage"):
        for _ in client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello again"}], stream=True
        ):
            pass
    with scenario("failing"):
        with suppress(openai.InternalServerError):
            client.chat.completions.create(model="failing-model", messages=[{"role": "user", "content": "fail"}])
    with scenario("embeddings"):
        client.embeddings.create(model="text-embedding-3-small", input=["a b"], dimensions=8)
    with scenario("tool call"):
        tools = TOOLS
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "add 2 and 2"}], tools=tools
        )
    with scenario("detailed usage"):  # the local LLM adds cached, cache-written and reasoning counts for it
        client.chat.completions.create(model="o4-mini", messages=[{"role": "user", "content": "What is 2 + 2?"}])
    with scenario("tool answer"):
        call = {"id": "call_local_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 2}'}}
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "user", "content": "add 2 and 2"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_local_1", "content": "4"},
            ],
            tools=tools,
        )


def litellm_calls(url: str) -> None:
    import litellm
    from litellm.litellm_core_utils.thread_pool_executor import executor

    common: dict[str, Any] = {"api_base": url, "api_key": "sk-test-not-a-real-key", "num_retries": 0}
    with scenario("chat"):
        litellm.completion(
            model="openai/gpt-4o-mini",
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}],
            **common,
        )
    with scenario("tool call"):
        litellm.completion(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "add 2 and 2"}], tools=TOOLS, **common
        )
    with scenario("detailed usage"):
        litellm.completion(model="openai/o4-mini", messages=[{"role": "user", "content": "What is 2 + 2?"}], **common)
    with scenario("failing"):
        with suppress(litellm.InternalServerError):
            litellm.completion(model="openai/failing-model", messages=[{"role": "user", "content": "fail"}], **common)
    with scenario("embeddings"):
        litellm.embedding(model="openai/text-embedding-3-small", input=["a b"], **common)
    executor.shutdown(wait=True)  # LiteLLM logs (and so traces) on its own threads, after each call returns


def langchain_calls(url: str) -> None:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    class Shelf(BaseRetriever):
        """Two fixed documents: what a vector store would return."""

        def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
            return [
                Document(id="doc-1", page_content="Paris is the capital of France.", metadata={"source": "atlas"}),
                Document(id="doc-2", page_content="Berlin is the capital of Germany.", metadata={"source": "atlas"}),
            ]

    @tool
    def add(a: int, b: int) -> int:
        """Adds two numbers a and b."""
        return a + b

    llm = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test-not-a-real-key", base_url=url, max_retries=0)
    with scenario("chain"):
        prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("user", "{question}")])
        (prompt | llm | StrOutputParser()).invoke({"question": "What is 2 + 2?"}, config={"metadata": {"team": "qa"}})
    with scenario("tool"):
        add.invoke({"a": 2, "b": 2})
    with scenario("retriever"):
        Shelf().invoke("capital of France")


def tiny_png() -> bytes:
    """A one-pixel PNG, made here: an image part's bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def pydantic_ai_calls(url: str) -> None:
    """Agents of pydantic-ai, instrumented by its own ``Agent.instrument_all``: plain, tool, structured, image."""
    from pydantic import BaseModel
    from pydantic_ai import Agent, BinaryContent, ImageUrl
    from pydantic_ai.models.instrumented import InstrumentationSettings
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    version = int(os.environ.get("PYDANTIC_AI_FORMAT", "5"))
    Agent.instrument_all(
        InstrumentationSettings(include_content=True, use_aggregated_usage_attribute_names=False, version=version)
    )
    model = OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(base_url=url, api_key="sk-test-not-a-real-key"))

    class Pair(BaseModel):
        a: int
        b: int

    with scenario("agent"):
        Agent(model, name="calculator", instructions="Answer tersely.").run_sync("What is 2 + 2?")
    with scenario("agent with tool"):
        adder = Agent(model, name="adder", instructions="Use the add tool.")

        @adder.tool_plain
        def add(a: int, b: int) -> int:
            """Adds two numbers a and b."""
            return a + b

        adder.run_sync("add 2 and 2")
    with scenario("structured"):
        Agent(model, name="pair", output_type=Pair, instructions="Return the pair.").run_sync("Give me a=2 and b=2.")
    with scenario("image"):
        Agent(model, name="looker", instructions="Describe images.").run_sync(
            [
                "Describe it.",
                ImageUrl(url="https://example.com/cat.png"),
                BinaryContent(data=tiny_png(), media_type="image/png"),
            ]
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("calls", choices=["openai", "langchain", "litellm", "pydantic-ai"])
    parser.add_argument("--manual")
    args = parser.parse_args()
    shutdown = manual_setup(args.manual) if args.manual else None
    calls = {"openai": openai_calls, "langchain": langchain_calls, "litellm": litellm_calls}
    calls["pydantic-ai"] = pydantic_ai_calls
    calls[args.calls](args.url)
    if shutdown is not None:
        shutdown()


if __name__ == "__main__":
    main()
