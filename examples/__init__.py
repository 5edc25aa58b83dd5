"""Runnable examples. A package too, so the tests import the demo, the local LLM and the loopback server it runs
on without touching ``sys.path``."""
