"""What chat clients return: responses, streamed updates, usage, tool specs.

Example::

    >>> Usage(3, 4) + Usage(1, 1)
    Usage(input_tokens=4, output_tokens=5, total_tokens=9)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agentic_nb.workflow import register_checkpoint_type

from ._messages import ChatMessage, TextContent, ToolCallContent


@register_checkpoint_type
@dataclass
class Usage:
    """Token counts of one or more model calls (``+`` adds them up).

    Example::

        >>> Usage(10, 2).total_tokens
        12
    """

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = -1

    def __post_init__(self) -> None:
        if self.total_tokens < 0:
            self.total_tokens = self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
        )


@dataclass(frozen=True)
class ToolSpec:
    """A function tool as a chat client sends it: name, description, JSON schema.

    Example::

        >>> ToolSpec("add", "Add numbers.", {"type": "object", "properties": {}}).name
        'add'
    """

    name: str
    description: str
    parameters: dict[str, Any]


@register_checkpoint_type
@dataclass
class ToolCallDelta:
    """A piece of a streamed tool call; pieces with the same ``index`` form one call.

    The first piece usually carries ``call_id`` and ``name``; later pieces carry
    fragments of the JSON ``arguments``.

    Example::

        >>> ToolCallDelta(0, "c1", "add", '{"a":').arguments
        '{"a":'
    """

    index: int
    call_id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass
class ChatResponseUpdate:
    """One streamed chunk from a chat client.

    Example::

        >>> ChatResponseUpdate(text="Hel").text
        'Hel'
    """

    text: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None
    model: str | None = None


@dataclass
class ChatResponse:
    """A complete answer from a chat client: the assistant message and its metadata.

    Example::

        >>> r = ChatResponse(ChatMessage.assistant("hi"))
        >>> r.text, r.tool_calls
        ('hi', [])
    """

    message: ChatMessage
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str | None = None
    value: Any = None
    raw: Any = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return self.message.text

    @property
    def tool_calls(self) -> list[ToolCallContent]:
        return self.message.tool_calls


class ToolCallAssembler:
    """Joins streamed :class:`ToolCallDelta` pieces into complete tool calls.

    Example::

        >>> a = ToolCallAssembler()
        >>> a.add(ToolCallDelta(0, "c1", "add", '{"a": '))
        >>> a.add(ToolCallDelta(0, None, None, "1}"))
        >>> a.calls()
        [ToolCallContent(call_id='c1', name='add', arguments={'a': 1}, raw_arguments=None)]
    """

    def __init__(self) -> None:
        self._parts: dict[int, list[Any]] = {}

    def add(self, delta: ToolCallDelta) -> None:
        part = self._parts.get(delta.index)
        if part is None:
            part = self._parts[delta.index] = [None, None, []]
        if delta.call_id:
            part[0] = delta.call_id
        if delta.name:
            known = part[1]
            part[1] = delta.name if known is None or known == delta.name else known + delta.name
        if delta.arguments:
            part[2].append(delta.arguments)

    def calls(self) -> list[ToolCallContent]:
        out: list[ToolCallContent] = []
        for index in sorted(self._parts):
            call_id, name, pieces = self._parts[index]
            out.append(
                ToolCallContent.from_raw(call_id or f"call_{index}", name or "", "".join(pieces))
            )
        return out


def assemble_response(
    updates: Iterable[ChatResponseUpdate], *, author_name: str | None = None
) -> ChatResponse:
    """Fold streamed updates into one :class:`ChatResponse` (text, tool calls, usage).

    Example::

        >>> r = assemble_response([ChatResponseUpdate(text="a"), ChatResponseUpdate(text="b")])
        >>> r.text
        'ab'
    """
    text: list[str] = []
    tools = ToolCallAssembler()
    usage: Usage | None = None
    finish: str | None = None
    model: str | None = None
    for u in updates:
        if u.text:
            text.append(u.text)
        for d in u.tool_calls:
            tools.add(d)
        if u.usage is not None:
            usage = u.usage
        if u.finish_reason:
            finish = u.finish_reason
        if u.model:
            model = u.model
    contents: list[Any] = []
    joined = "".join(text)
    if joined:
        contents.append(TextContent(joined))
    contents.extend(tools.calls())
    msg = ChatMessage("assistant", contents=contents, author_name=author_name)
    return ChatResponse(msg, usage or Usage(), finish, model)
