"""Spans to runs: the pure half of the exporter.

Nothing here does I/O, so every rule about what a run looks like is tested
by calling a function. ``span_to_run`` is the entry point; the modules under
it each own one question it asks of a span: which node group and run shape
(``run_shapes``), which LLM messages (``llm_content``, ``vercel_ai``), which
values must be masked (``redaction``). Two modules run earlier, inside the
application's SDK pipeline, because what they need is gone by export time:
``call_nesting`` marks an LLM call traced twice while its parent is live,
and ``content_events`` keeps GenAI log events until their span is exported.
"""
