"""ScriptedChatClient: a TEST DOUBLE that replays given answers and records requests.

It never talks to a model. Use it to test agent logic (tool loops, parallel
calls, malformed arguments, round limits) deterministically.

Example::

    >>> import asyncio
    >>> client = ScriptedChatClient([ScriptedChatClient.calls(("add", {"a": 1, "b": 2})), "3"])
    >>> r = asyncio.run(client.get_response("1+2?"))
    >>> r.tool_calls[0].name, len(client.requests)
    ('add', 1)
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from ._client import ChatClient, ChatRequest, ChatRetryPolicy
from ._errors import ChatClientError
from ._messages import ChatMessage, TextContent, ToolCallContent
from ._types import ChatResponse, ChatResponseUpdate, ToolCallDelta, Usage

Script = str | ChatMessage | ChatResponse | BaseException | Callable[[ChatRequest], Any]


def estimate_tokens(text: str) -> int:
    """A rough token estimate (~4 characters per token), used when no tokenizer exists.

    Example::

        >>> estimate_tokens("twelve chars")
        3
    """
    return (len(text) + 3) // 4


class ScriptedChatClient(ChatClient):
    """A test double: answers with the scripted items in order, records every request.

    Each item is a ``str`` (assistant text), a :class:`ChatMessage`, a
    :class:`ChatResponse`, an exception (raised, so retries can be tested) or a
    callable ``(ChatRequest) -> item`` that computes the answer. When streaming,
    text is cut into ``chunk_size``-character pieces and tool-call arguments into
    fragments, interleaved across calls, like real providers do. ``delay`` adds a
    pause (seconds) before each answer.

    Example::

        >>> import asyncio
        >>> c = ScriptedChatClient(["hello world"], chunk_size=5)
        >>> async def chunks():
        ...     return [u.text async for u in c.get_streaming_response("hi")]
        >>> asyncio.run(chunks())
        ['hello', ' worl', 'd', '']
    """

    provider = "scripted"

    def __init__(
        self,
        script: Iterable[Script] = (),
        *,
        model: str = "scripted",
        chunk_size: int = 4,
        delay: float = 0.0,
        retry: ChatRetryPolicy | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        super().__init__(model, timeout=timeout, retry=retry or ChatRetryPolicy(max_attempts=1))
        self.script: list[Script] = list(script)
        self.requests: list[ChatRequest] = []
        self.chunk_size = max(1, chunk_size)
        self.delay = delay

    @staticmethod
    def calls(*calls: tuple[str, dict[str, Any] | str], text: str = "") -> ChatMessage:
        """An assistant message asking for tool calls: ``calls(("name", {args}), ...)``.

        Give the arguments as a ``str`` to script malformed JSON.
        """
        contents: list[Any] = [TextContent(text)] if text else []
        for name, args in calls:
            contents.append(ToolCallContent.from_raw(f"call_{uuid.uuid4().hex[:8]}", name, args))
        return ChatMessage("assistant", contents=contents)

    def add(self, *items: Script) -> None:
        """Append answers to the script."""
        self.script.extend(items)

    async def _next(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.script:
            raise ChatClientError(
                self.provider,
                self.model,
                f"the script is exhausted after {len(self.requests) - 1} answers",
                hint="add more answers to ScriptedChatClient(...) or check the agent's loop",
            )
        item: Any = self.script.pop(0)
        if callable(item) and not isinstance(item, BaseException):
            item = item(request)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, ChatResponse):
            return item
        if isinstance(item, str):
            item = ChatMessage.assistant(item)
        if not isinstance(item, ChatMessage):
            raise TypeError(f"ScriptedChatClient: cannot answer with a {type(item).__name__}")
        msg = ChatMessage("assistant", contents=list(item.contents), author_name=item.author_name)
        prompt = sum(estimate_tokens(m.text) + 4 for m in request.messages)
        out = estimate_tokens(msg.text) + sum(
            estimate_tokens(c.arguments_json) for c in msg.tool_calls
        )
        finish = "tool_calls" if msg.tool_calls else "stop"
        return ChatResponse(msg, Usage(prompt, out), finish, self.model)

    async def _create(self, request: ChatRequest) -> ChatResponse:
        return await self._next(request)

    async def _stream(self, request: ChatRequest) -> AsyncIterator[ChatResponseUpdate]:
        response = await self._next(request)
        text = response.text
        n = self.chunk_size
        for i in range(0, len(text), n):
            yield ChatResponseUpdate(text=text[i : i + n], model=self.model)
            await asyncio.sleep(0)
        calls = response.tool_calls
        # First piece of each call: id and name; then argument fragments, interleaved.
        for index, call in enumerate(calls):
            yield ChatResponseUpdate(tool_calls=[ToolCallDelta(index, call.call_id, call.name, "")])
        pieces = [_split(c.arguments_json, 3) for c in calls]
        for round_ in range(3):
            for index, parts in enumerate(pieces):
                if parts[round_]:
                    yield ChatResponseUpdate(
                        tool_calls=[ToolCallDelta(index, None, None, parts[round_])]
                    )
        yield ChatResponseUpdate(usage=response.usage, finish_reason=response.finish_reason)


def _split(text: str, n: int) -> list[str]:
    size = max(1, -(-len(text) // n))
    parts = [text[i * size : (i + 1) * size] for i in range(n)]
    return parts
