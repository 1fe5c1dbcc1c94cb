"""Errors raised by LLM backends."""

from __future__ import annotations


class BackendError(RuntimeError):
    """An LLM call failed for good (after retries) or returned something unusable."""


class BackendNotInstalledError(ImportError):
    """The backend's optional dependency is missing; the message says what to install."""
