"""OpenAIChatClient: the ``openai`` SDK, for OpenAI and any OpenAI-compatible server.

Example::

    >>> client = OpenAIChatClient("gpt-4o-mini", api_key="sk-test")
    >>> client.provider, client.model
    ('openai', 'gpt-4o-mini')
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from agentic_nb._optional import require

from ._client import ChatClient, ChatRequest, ChatRetryPolicy
from ._errors import (
    ChatClientError,
    ChatConnectionError,
    ChatTimeoutError,
    error_for_status,
    parse_retry_after,
)
from ._openai_wire import openai_body, parse_chunk, parse_completion
from ._types import ChatResponse, ChatResponseUpdate


class OpenAIChatClient(ChatClient):
    """Chat through the official ``openai`` SDK (Chat Completions API).

    ``base_url`` points it at any OpenAI-compatible server (vLLM, Ollama,
    llama.cpp / xllamacpp: ``http://127.0.0.1:8080/v1``). The SDK's own retries
    are switched off: :class:`ChatRetryPolicy` retries instead, honouring
    ``Retry-After``. Structured output uses ``response_format`` ``json_schema``.

    Example::

        >>> OpenAIChatClient("m", base_url="http://127.0.0.1:9/v1", api_key="x").base_url
        'http://127.0.0.1:9/v1'
    """

    provider = "openai"
    api_key_env = "OPENAI_API_KEY"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = 120.0,
        retry: ChatRetryPolicy | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        default_headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            model, timeout=timeout, retry=retry, max_tokens=max_tokens, temperature=temperature
        )
        openai = require("openai", "llm")
        import os

        key = api_key or os.environ.get("OPENAI_API_KEY")
        if key is None and base_url is not None:
            key = "not-needed"  # local OpenAI-compatible servers ignore the key
        if key is None:
            raise ChatClientError(
                self.provider,
                model,
                "no API key",
                hint="pass api_key= or set OPENAI_API_KEY (or pass base_url= for a local server)",
            )
        self.base_url = base_url
        self._sdk = openai.AsyncOpenAI(
            api_key=key,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
            default_headers=default_headers,
        )
        self._openai = openai

    async def _create(self, request: ChatRequest) -> ChatResponse:
        body = openai_body(request, self.model)
        completion = await self._sdk.chat.completions.create(**body)
        return parse_completion(completion.model_dump())

    async def _stream(self, request: ChatRequest) -> AsyncIterator[ChatResponseUpdate]:
        body = openai_body(request, self.model)
        body["stream"] = True
        body.setdefault("stream_options", {"include_usage": True})
        stream = await self._sdk.chat.completions.create(**body)
        try:
            async for chunk in stream:
                yield parse_chunk(chunk.model_dump())
        finally:
            await stream.close()

    def _translate_error(self, exc: BaseException) -> ChatClientError | None:
        o = self._openai
        if isinstance(exc, o.APITimeoutError):
            return ChatTimeoutError(self.provider, self.model, f"request timed out ({exc})")
        if isinstance(exc, o.APIConnectionError):
            where = self.base_url or "api.openai.com"
            return ChatConnectionError(
                self.provider, self.model, f"cannot connect to {where}: {exc.__cause__ or exc}"
            )
        if isinstance(exc, o.APIStatusError):
            return error_for_status(
                self.provider,
                self.model,
                exc.status_code,
                f"HTTP {exc.status_code}: {_message(exc)}",
                retry_after=parse_retry_after(exc.response.headers),
            )
        return None

    async def close(self) -> None:
        """Close the SDK's HTTP connections."""
        await self._sdk.close()


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
    return str(getattr(exc, "message", exc))[:300]
