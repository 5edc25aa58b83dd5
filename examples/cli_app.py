"""An application that only uses the OpenTelemetry API: no SDK setup, no exporter code.

Run it under ``opentelemetry-instrument`` and its spans reach Dynamiq::

    DYNAMIQ_ACCESS_KEY=... opentelemetry-instrument python examples/cli_app.py

It prints the trace id, so you can find the trace afterwards.
"""

from opentelemetry import trace

tracer = trace.get_tracer("examples.cli_app")

with tracer.start_as_current_span("answer question") as root:
    with tracer.start_as_current_span(
        "chat tiny-model",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "tiny-model",
            "gen_ai.provider.name": "local",
            "gen_ai.usage.input_tokens": 7,
            "gen_ai.usage.output_tokens": 2,
            "input.value": "What is 2 + 2?",
            "output.value": "4",
        },
    ):
        pass

print(format(root.get_span_context().trace_id, "032x"))
