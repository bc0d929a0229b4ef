"""AnthropicChatClient: the ``anthropic`` SDK (Messages API).

Example::

    >>> AnthropicChatClient("claude-sonnet-4-5", api_key="k").provider
    'anthropic'
"""

from __future__ import annotations

import json
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

DEFAULT_MAX_TOKENS = 1024


class AnthropicChatClient(ChatClient):
    """Chat through the official ``anthropic`` SDK.

    System messages become the ``system`` parameter, tool calls ``tool_use``
    blocks and tool results ``tool_result`` blocks. Structured output uses the
    Messages API's native ``output_config={"format": {"type": "json_schema"}}``.
    ``base_url`` points it at an Anthropic-compatible server. ``count_tokens``
    asks the provider for an exact count.

    Example::

        >>> AnthropicChatClient("m", base_url="http://127.0.0.1:9", api_key="x").base_url
        'http://127.0.0.1:9'
    """

    provider = "anthropic"
    api_key_env = "ANTHROPIC_API_KEY"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = 120.0,
        retry: ChatRetryPolicy | None = None,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
        temperature: float | None = None,
    ) -> None:
        super().__init__(
            model, timeout=timeout, retry=retry, max_tokens=max_tokens, temperature=temperature
        )
        anthropic = require("anthropic", "llm")
        import os

        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if key is None and base_url is not None:
            key = "not-needed"
        if key is None:
            raise ChatClientError(
                self.provider,
                model,
                "no API key",
                hint="pass api_key= or set ANTHROPIC_API_KEY (or base_url= for a local server)",
            )
        self.base_url = base_url
        self._sdk = anthropic.AsyncAnthropic(
            api_key=key, base_url=base_url, timeout=timeout, max_retries=0
        )
        self._anthropic = anthropic

    # ------------------------------------------------------------- requests
    def _body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": to_anthropic_messages(request.messages),
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        }
        system = request.system_text
        if system:
            body["system"] = system
        if request.tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
            if request.tool_choice is not None:
                body["tool_choice"] = _tool_choice(request.tool_choice)
        if request.response_format is not None:
            body["output_config"] = {
                "format": {
                    "type": "json_schema",
                    "schema": closed_schema(request.response_format.schema),
                }
            }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop:
            body["stop_sequences"] = request.stop
        body.update(request.extra)
        return body

    async def _create(self, request: ChatRequest) -> ChatResponse:
        msg = await self._sdk.messages.create(**self._body(request))
        contents: list[Any] = []
        for block in msg.content:
            if block.type == "text":
                contents.append(TextContent(block.text))
            elif block.type == "tool_use":
                contents.append(ToolCallContent.from_raw(block.id, block.name, dict(block.input)))
        usage = Usage(msg.usage.input_tokens or 0, msg.usage.output_tokens or 0)
        return ChatResponse(
            ChatMessage("assistant", contents=contents),
            usage,
            msg.stop_reason,
            msg.model,
            raw=msg,
        )

    async def _stream(self, request: ChatRequest) -> AsyncIterator[ChatResponseUpdate]:
        body = self._body(request)
        stream = await self._sdk.messages.create(stream=True, **body)
        input_tokens = 0
        try:
            async for ev in stream:
                kind = ev.type
                if kind == "message_start":
                    input_tokens = ev.message.usage.input_tokens or 0
                    yield ChatResponseUpdate(model=ev.message.model)
                elif kind == "content_block_start":
                    block = ev.content_block
                    if block.type == "tool_use":
                        yield ChatResponseUpdate(
                            tool_calls=[ToolCallDelta(ev.index, block.id, block.name, "")]
                        )
                    elif block.type == "text" and block.text:
                        yield ChatResponseUpdate(text=block.text)
                elif kind == "content_block_delta":
                    d = ev.delta
                    if d.type == "text_delta":
                        yield ChatResponseUpdate(text=d.text)
                    elif d.type == "input_json_delta":
                        yield ChatResponseUpdate(
                            tool_calls=[ToolCallDelta(ev.index, None, None, d.partial_json)]
                        )
                elif kind == "message_delta":
                    out = ev.usage.output_tokens or 0
                    yield ChatResponseUpdate(
                        usage=Usage(input_tokens, out), finish_reason=ev.delta.stop_reason
                    )
        finally:
            await stream.close()

    async def count_tokens(self, messages: Sequence[ChatMessage]) -> int | None:
        """Exact input tokens from the provider's ``count_tokens`` endpoint."""
        system = "\n\n".join(m.text for m in messages if m.role == "system")
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": to_anthropic_messages(messages) or [{"role": "user", "content": "."}],
        }
        if system:
            kwargs["system"] = system
        try:
            result = await self._sdk.messages.count_tokens(**kwargs)
        except Exception as exc:
            raise self._as_error(exc) from exc
        return int(result.input_tokens)

    def _translate_error(self, exc: BaseException) -> ChatClientError | None:
        a = self._anthropic
        if isinstance(exc, a.APITimeoutError):
            return ChatTimeoutError(self.provider, self.model, f"request timed out ({exc})")
        if isinstance(exc, a.APIConnectionError):
            where = self.base_url or "api.anthropic.com"
            return ChatConnectionError(
                self.provider, self.model, f"cannot connect to {where}: {exc.__cause__ or exc}"
            )
        if isinstance(exc, a.APIStatusError):
            body = getattr(exc, "body", None)
            text = str(exc.message)
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                text = str(body["error"].get("message", text))
            return error_for_status(
                self.provider,
                self.model,
                exc.status_code,
                f"HTTP {exc.status_code}: {text[:300]}",
                retry_after=parse_retry_after(exc.response.headers),
            )
        return None

    async def close(self) -> None:
        await self._sdk.close()


def _tool_choice(choice: str) -> dict[str, Any]:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    return {"type": "tool", "name": choice}


def to_anthropic_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Messages API ``messages`` (system excluded; consecutive same roles merged).

    Example::

        >>> to_anthropic_messages([ChatMessage.system("s"), ChatMessage.user("hi")])
        [{'role': 'user', 'content': [{'type': 'text', 'text': 'hi'}]}]
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        role = "assistant" if m.role == "assistant" else "user"
        blocks: list[dict[str, Any]] = []
        for c in m.contents:
            if isinstance(c, TextContent):
                if c.text:
                    blocks.append({"type": "text", "text": c.text})
            elif isinstance(c, ToolCallContent):
                blocks.append(
                    {"type": "tool_use", "id": c.call_id, "name": c.name, "input": c.arguments}
                )
            elif isinstance(c, ToolResultContent):
                blocks.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": c.call_id,
                        "content": c.result,
                        "is_error": c.is_error,
                    }
                )
            elif isinstance(c, DataContent) and role == "user":
                blocks.append({"type": "text", "text": json.dumps(c.data, default=str)})
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def closed_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` with ``additionalProperties: false`` on every object
    (what strict structured-output modes require).

    Example::

        >>> closed_schema({"type": "object", "properties": {}})["additionalProperties"]
        False
    """

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            new = {k: walk(v) for k, v in node.items()}
            if new.get("type") == "object" and "additionalProperties" not in new:
                new["additionalProperties"] = False
            return new
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result
