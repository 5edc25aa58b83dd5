"""Spans to runs: the pure half of the exporter.

Nothing here does I/O, so every rule about what a run looks like is tested
by calling a function. ``span_to_run`` is the entry point; the modules under
it each own one question it asks of a span: which node group and run shape
(``run_shapes``), which LLM messages (``llm_content``, ``vercel_ai``), which
values must be masked (``redaction``). What is gone by export time (an LLM
call traced twice, known while its parent is live; GenAI log events) is
gathered inside the application's SDK pipeline by ``otel_dynamiq.processors``
and handed to ``span_to_run`` as arguments.
"""
