"""Chat clients over each provider's official SDK, plus a local model and a test double.

Every client has the same surface: ``await client.get_response(messages, tools=...,
response_format=..., max_tokens=...)`` and ``client.get_streaming_response(...)``
(async iterator of :class:`ChatResponseUpdate`), with retries, timeouts and one
:class:`ChatClientError` hierarchy. SDKs are imported only when a client is built.

Example::

    >>> import asyncio
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> asyncio.run(ScriptedChatClient(["hi there"]).get_response("hello")).text
    'hi there'
"""

from ._anthropic import AnthropicChatClient
from ._client import ChatClient, ChatRequest, ChatRetryPolicy, ResponseFormat
from ._errors import (
    AuthenticationError,
    BadRequestError,
    ChatClientError,
    ChatConnectionError,
    ChatTimeoutError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    StructuredOutputError,
)
from ._gemini import GeminiChatClient
from ._local import LocalChatClient, smollm2_path
from ._messages import (
    ChatMessage,
    Content,
    DataContent,
    Role,
    TextContent,
    ToolCallContent,
    ToolResultContent,
    as_messages,
)
from ._openai import OpenAIChatClient
from ._recording import (
    RecordingChatClient,
    ReplayChatClient,
    UnrecordedRequestError,
    describe_request,
    request_fingerprint,
)
from ._scripted import ScriptedChatClient, estimate_tokens
from ._types import (
    ChatResponse,
    ChatResponseUpdate,
    ToolCallAssembler,
    ToolCallDelta,
    ToolSpec,
    Usage,
    assemble_response,
)

__all__ = [
    "AnthropicChatClient",
    "AuthenticationError",
    "BadRequestError",
    "ChatClient",
    "ChatClientError",
    "ChatConnectionError",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "ChatResponseUpdate",
    "ChatRetryPolicy",
    "ChatTimeoutError",
    "Content",
    "DataContent",
    "GeminiChatClient",
    "LocalChatClient",
    "OpenAIChatClient",
    "RateLimitError",
    "RecordingChatClient",
    "ReplayChatClient",
    "ResponseFormat",
    "ResponseFormatError",
    "Role",
    "ScriptedChatClient",
    "ServerError",
    "StructuredOutputError",
    "TextContent",
    "ToolCallAssembler",
    "ToolCallContent",
    "ToolCallDelta",
    "ToolResultContent",
    "ToolSpec",
    "UnrecordedRequestError",
    "Usage",
    "as_messages",
    "assemble_response",
    "describe_request",
    "estimate_tokens",
    "request_fingerprint",
    "smollm2_path",
]
