"""Helpers the tests share, in modules of their own: pytest fixtures stay in conftest files."""
