"""GeminiChatClient: the ``google-genai`` SDK (Gemini API).

Example::

    >>> GeminiChatClient("gemini-2.5-flash", api_key="k").provider
    'gemini'
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
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
from ._messages import ChatMessage, DataContent, TextContent, ToolCallContent, ToolResultContent
from ._types import ChatResponse, ChatResponseUpdate, ToolCallDelta, Usage


class GeminiChatClient(ChatClient):
    """Chat through the official ``google-genai`` SDK.

    ``base_url`` (or a full ``http_options``) points the SDK at another
    endpoint, e.g. a local server that speaks Gemini's REST format. Structured
    output uses ``response_mime_type="application/json"`` with
    ``response_json_schema``. The SDK's own retries stay off: :class:`ChatRetryPolicy`
    retries, honouring ``Retry-After``.

    Example::

        >>> GeminiChatClient("m", api_key="k", base_url="http://127.0.0.1:9").base_url
        'http://127.0.0.1:9'
    """

    provider = "gemini"
    api_key_env = "GEMINI_API_KEY"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        http_options: Any = None,
        timeout: float | None = 120.0,
        retry: ChatRetryPolicy | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> None:
        super().__init__(
            model, timeout=timeout, retry=retry, max_tokens=max_tokens, temperature=temperature
        )
        genai = require("google.genai", "llm")
        import os

        from google.genai import errors, types

        key = api_key or os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
        if key is None and base_url is not None:
            key = "not-needed"
        if key is None:
            raise ChatClientError(
                self.provider,
                model,
                "no API key",
                hint="pass api_key= or set GEMINI_API_KEY (or base_url= for a local server)",
            )
        if http_options is None:
            http_options = types.HttpOptions(
                base_url=base_url,
                timeout=int(timeout * 1000) if timeout is not None else None,
            )
        self.base_url = base_url
        self._types = types
        self._errors = errors
        self._sdk = genai.Client(api_key=key, http_options=http_options)

    # ------------------------------------------------------------- requests
    def _config(self, request: ChatRequest) -> Any:
        t = self._types
        cfg: dict[str, Any] = {}
        system = request.system_text
        if system:
            cfg["system_instruction"] = system
        if request.tools:
            cfg["tools"] = [
                t.Tool(
                    function_declarations=[
                        t.FunctionDeclaration(
                            name=s.name,
                            description=s.description,
                            parameters_json_schema=s.parameters,
                        )
                        for s in request.tools
                    ]
                )
            ]
            if request.tool_choice is not None:
                mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}.get(
                    request.tool_choice, "ANY"
                )
                fcc: dict[str, Any] = {"mode": mode}
                if request.tool_choice not in ("auto", "none", "required"):
                    fcc["allowed_function_names"] = [request.tool_choice]
                cfg["tool_config"] = t.ToolConfig(
                    function_calling_config=t.FunctionCallingConfig(**fcc)
                )
            cfg["automatic_function_calling"] = t.AutomaticFunctionCallingConfig(disable=True)
        if request.response_format is not None:
            cfg["response_mime_type"] = "application/json"
            cfg["response_json_schema"] = request.response_format.schema
        if request.max_tokens is not None:
            cfg["max_output_tokens"] = request.max_tokens
        if request.temperature is not None:
            cfg["temperature"] = request.temperature
        if request.stop:
            cfg["stop_sequences"] = request.stop
        cfg.update(request.extra)
        return t.GenerateContentConfig(**cfg)

    def _contents(self, messages: Sequence[ChatMessage]) -> list[Any]:
        t = self._types
        names: dict[str, str] = {}
        out: list[Any] = []
        for m in messages:
            if m.role == "system":
                continue
            role = "model" if m.role == "assistant" else "user"
            parts: list[Any] = []
            for c in m.contents:
                if isinstance(c, TextContent) and c.text:
                    parts.append(t.Part(text=c.text))
                elif isinstance(c, ToolCallContent):
                    names[c.call_id] = c.name
                    parts.append(
                        t.Part(
                            function_call=t.FunctionCall(
                                id=c.call_id, name=c.name, args=c.arguments
                            )
                        )
                    )
                elif isinstance(c, ToolResultContent):
                    key = "error" if c.is_error else "result"
                    parts.append(
                        t.Part(
                            function_response=t.FunctionResponse(
                                id=c.call_id,
                                name=c.name or names.get(c.call_id, "tool"),
                                response={key: c.result},
                            )
                        )
                    )
                elif isinstance(c, DataContent) and role == "user":
                    import json

                    parts.append(t.Part(text=json.dumps(c.data, default=str)))
            if not parts:
                continue
            if out and out[-1].role == role:
                out[-1].parts.extend(parts)
            else:
                out.append(t.Content(role=role, parts=parts))
        return out

    async def _create(self, request: ChatRequest) -> ChatResponse:
        resp = await self._sdk.aio.models.generate_content(
            model=self.model,
            contents=self._contents(request.messages),
            config=self._config(request),
        )
        contents: list[Any] = []
        finish = None
        if resp.candidates:
            cand = resp.candidates[0]
            finish = str(cand.finish_reason.value) if cand.finish_reason else None
            for part in (cand.content.parts if cand.content else None) or []:
                if part.function_call is not None:
                    fc = part.function_call
                    contents.append(
                        ToolCallContent.from_raw(
                            fc.id or f"call_{uuid.uuid4().hex[:8]}",
                            fc.name or "",
                            dict(fc.args or {}),
                        )
                    )
                elif part.text:
                    contents.append(TextContent(part.text))
        return ChatResponse(
            ChatMessage("assistant", contents=contents),
            _usage(resp.usage_metadata) or Usage(),
            finish,
            resp.model_version,
            raw=resp,
        )

    async def _stream(self, request: ChatRequest) -> AsyncIterator[ChatResponseUpdate]:
        stream = await self._sdk.aio.models.generate_content_stream(
            model=self.model,
            contents=self._contents(request.messages),
            config=self._config(request),
        )
        index = 0
        try:
            async for chunk in stream:
                update = ChatResponseUpdate(
                    model=chunk.model_version, usage=_usage(chunk.usage_metadata)
                )
                for cand in (chunk.candidates or [])[:1]:
                    if cand.finish_reason:
                        update.finish_reason = str(cand.finish_reason.value)
                    for part in (cand.content.parts if cand.content else None) or []:
                        if part.function_call is not None:
                            fc = part.function_call
                            import json

                            update.tool_calls.append(
                                ToolCallDelta(
                                    index,
                                    fc.id or f"call_{uuid.uuid4().hex[:8]}",
                                    fc.name,
                                    json.dumps(dict(fc.args or {})),
                                )
                            )
                            index += 1
                        elif part.text:
                            update.text += part.text
                yield update
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def count_tokens(self, messages: Sequence[ChatMessage]) -> int | None:
        """Exact tokens from the provider's ``countTokens`` endpoint."""
        try:
            result = await self._sdk.aio.models.count_tokens(
                model=self.model, contents=self._contents(messages)
            )
        except Exception as exc:
            raise self._as_error(exc) from exc
        return int(result.total_tokens or 0)

    def _translate_error(self, exc: BaseException) -> ChatClientError | None:
        if isinstance(exc, self._errors.APIError):
            headers = getattr(getattr(exc, "response", None), "headers", None)
            return error_for_status(
                self.provider,
                self.model,
                exc.code,
                f"HTTP {exc.code}: {str(exc.message or exc.status or exc)[:300]}",
                retry_after=parse_retry_after(headers),
            )
        timeouts, transport = _transport_errors()
        if isinstance(exc, timeouts):
            return ChatTimeoutError(self.provider, self.model, f"request timed out ({exc})")
        if isinstance(exc, transport):
            where = self.base_url or "generativelanguage.googleapis.com"
            return ChatConnectionError(
                self.provider, self.model, f"cannot connect to {where}: {exc!r}"
            )
        return None


def _transport_errors() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """Timeout and transport exception classes of the HTTP stacks google-genai may use."""
    import importlib

    timeouts: list[type] = []
    transport: list[type] = []
    for name in ("httpx", "httpx2"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        timeouts.append(mod.TimeoutException)
        transport.append(mod.TransportError)
    try:
        aiohttp = importlib.import_module("aiohttp")
        transport.append(aiohttp.ClientConnectionError)
        timeouts.append(aiohttp.ServerTimeoutError)
    except ImportError:
        pass
    return tuple(timeouts), tuple(transport)


def _usage(meta: Any) -> Usage | None:
    if meta is None:
        return None
    p = meta.prompt_token_count or 0
    c = meta.candidates_token_count or 0
    return Usage(p, c, meta.total_token_count or p + c)
