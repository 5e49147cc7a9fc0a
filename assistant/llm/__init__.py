"""LLM boundary: one `ChatModel` protocol (`base.py`), implemented once over the `openai` client.

The embedded default serves the packaged GGUF behind llama-cpp-python's OpenAI-compatible server on a
loopback port; a remote endpoint is opt-in configuration.
"""

from assistant.llm.base import ChatModel, ChatResult, ContextLengthError, LLMError, LLMInfo

__all__ = ["ChatModel", "ChatResult", "ContextLengthError", "LLMError", "LLMInfo"]
