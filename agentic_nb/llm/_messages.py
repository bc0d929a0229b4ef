"""Chat messages and their structured contents (plain, JSON-storable dataclasses).

Example::

    >>> m = ChatMessage.user("hello", author_name="ana")
    >>> m.role, m.text, m.author_name
    ('user', 'hello', 'ana')
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from agentic_nb.workflow import register_checkpoint_type

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")


@register_checkpoint_type
@dataclass
class TextContent:
    """Plain text inside a message.

    Example::

        >>> TextContent("hi").text
        'hi'
    """

    text: str


@register_checkpoint_type
@dataclass
class ToolCallContent:
    """The model asks to call tool ``name`` with ``arguments`` (parsed JSON object).

    ``raw_arguments`` keeps the exact text the model produced, so arguments that
    are not valid JSON can be reported back to the model instead of crashing.

    Example::

        >>> ToolCallContent("c1", "add", {"a": 1}).arguments
        {'a': 1}
    """

    call_id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    raw_arguments: str | None = None

    @classmethod
    def from_raw(cls, call_id: str, name: str, raw: str | dict[str, Any] | None) -> ToolCallContent:
        """Build from the model's argument text; invalid JSON keeps ``arguments`` empty."""
        if isinstance(raw, dict):
            return cls(call_id, name, dict(raw), None)
        text = raw or ""
        try:
            parsed = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError:
            return cls(call_id, name, {}, text)
        if not isinstance(parsed, dict):
            return cls(call_id, name, {}, text)
        return cls(call_id, name, parsed, None)

    @property
    def arguments_json(self) -> str:
        """The arguments as the JSON text providers expect."""
        if self.raw_arguments is not None:
            return self.raw_arguments
        return json.dumps(self.arguments, ensure_ascii=False)

    @property
    def arguments_valid(self) -> bool:
        """False when the model produced arguments that are not a JSON object."""
        return self.raw_arguments is None


@register_checkpoint_type
@dataclass
class ToolResultContent:
    """The result of a tool call, sent back to the model (``is_error`` for failures).

    Example::

        >>> ToolResultContent("c1", "3", name="add").result
        '3'
    """

    call_id: str
    result: str
    name: str = ""
    is_error: bool = False


@register_checkpoint_type
@dataclass
class DataContent:
    """Structured data (JSON-friendly) or a structured-output value attached to a message.

    Example::

        >>> DataContent({"score": 3}).data
        {'score': 3}
    """

    data: Any
    media_type: str = "application/json"


Content: TypeAlias = TextContent | ToolCallContent | ToolResultContent | DataContent


@register_checkpoint_type
@dataclass(init=False)
class ChatMessage:
    """One message of a conversation: a role and a list of contents.

    ``ChatMessage("user", "hi")`` is shorthand for one :class:`TextContent`.
    ``author_name`` says which agent or person wrote it; ``message_id`` is unique.

    Example::

        >>> msg = ChatMessage("assistant", "4", author_name="calc")
        >>> msg.text, msg.tool_calls
        ('4', [])
    """

    role: str
    contents: list[Content]
    author_name: str | None
    message_id: str

    def __init__(
        self,
        role: str,
        text: str | None = None,
        *,
        contents: list[Content] | None = None,
        author_name: str | None = None,
        message_id: str | None = None,
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"ChatMessage role must be one of {list(ROLES)}, got {role!r}")
        items: list[Content] = list(contents or [])
        if text is not None:
            if not isinstance(text, str):
                raise TypeError(
                    f"ChatMessage text must be a str, got {type(text).__name__}; "
                    f"put structured values in contents=[DataContent(...)]"
                )
            items.insert(0, TextContent(text))
        self.role = role
        self.contents = items
        self.author_name = author_name
        self.message_id = message_id or uuid.uuid4().hex[:16]

    # ------------------------------------------------------------ shorthands
    @classmethod
    def user(cls, text: str, *, author_name: str | None = None) -> ChatMessage:
        return cls("user", text, author_name=author_name)

    @classmethod
    def system(cls, text: str) -> ChatMessage:
        return cls("system", text)

    @classmethod
    def assistant(cls, text: str = "", *, author_name: str | None = None) -> ChatMessage:
        return cls("assistant", text, author_name=author_name)

    @classmethod
    def tool_result(
        cls, call_id: str, result: str, *, name: str = "", is_error: bool = False
    ) -> ChatMessage:
        return cls("tool", contents=[ToolResultContent(call_id, result, name, is_error)])

    # ------------------------------------------------------------- accessors
    @property
    def text(self) -> str:
        """All text contents joined (empty when the message only holds tool calls)."""
        return "".join(c.text for c in self.contents if isinstance(c, TextContent))

    @property
    def tool_calls(self) -> list[ToolCallContent]:
        return [c for c in self.contents if isinstance(c, ToolCallContent)]

    @property
    def tool_results(self) -> list[ToolResultContent]:
        return [c for c in self.contents if isinstance(c, ToolResultContent)]

    def __repr__(self) -> str:
        who = f", author_name={self.author_name!r}" if self.author_name else ""
        body = self.text
        if len(body) > 60:
            body = body[:59] + "…"
        extra = ""
        if self.tool_calls:
            extra = f", tool_calls={[c.name for c in self.tool_calls]}"
        if self.tool_results:
            extra += f", tool_results={len(self.tool_results)}"
        return f"ChatMessage({self.role!r}, {body!r}{who}{extra})"


def as_messages(value: Any, *, where: str = "agent") -> list[ChatMessage]:
    """Normalise ``str | ChatMessage | list[str | ChatMessage] | None`` to messages.

    Example::

        >>> [m.role for m in as_messages(["a", ChatMessage.system("s")])]
        ['user', 'system']
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [ChatMessage.user(value)]
    if isinstance(value, ChatMessage):
        return [value]
    if isinstance(value, (list, tuple)):
        out: list[ChatMessage] = []
        for i, v in enumerate(value):
            if isinstance(v, str):
                out.append(ChatMessage.user(v))
            elif isinstance(v, ChatMessage):
                out.append(v)
            else:
                raise TypeError(
                    f"{where}: message {i} is a {type(v).__name__}; pass str or ChatMessage items"
                )
        return out
    raise TypeError(
        f"{where}: cannot use a {type(value).__name__} as messages; pass a str, a "
        f"ChatMessage or a list of them"
    )
