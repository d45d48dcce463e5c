"""LLM governance gateway: an OpenAI-compatible proxy that governs every call."""

__version__ = "0.1.0"
