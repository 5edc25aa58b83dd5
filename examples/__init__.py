"""Runnable examples. A package too, so the tests import the demo and the local LLM without touching ``sys.path``."""
