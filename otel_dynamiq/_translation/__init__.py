"""Spans to runs: the pure half of the exporter.

Nothing here does I/O or keeps state, so every rule about what a run looks
like is tested by calling a function. ``span_to_run`` is the entry point; the
modules under it each own one question it asks of a span: which node group
and run shape (``run_shapes``), which LLM messages (``llm_content``,
``vercel_ai``), which images, audio and files (``media``), which values must
be masked (``redaction``), whether a run has the identity the service needs
(``run_identity``). What a caller remembers between spans is an object it
owns and passes in (``RunDefaults`` with its ``SharedDescriptions``, a
``Redactor``); module-level names are constants, and the few memoised
functions (``functools.lru_cache``) depend on their arguments alone. What is known only while a
span is live (an LLM call traced twice, GenAI log events) is gathered by the
processors in ``otel_dynamiq.processors`` and handed to ``span_to_run`` as
arguments. ``tests/translation/test_purity.py`` keeps it so.
"""
