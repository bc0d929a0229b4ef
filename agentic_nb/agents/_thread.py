"""Conversation threads and the stores that keep their messages.

Agents are stateless; an :class:`AgentThread` carries one conversation. Its
messages live in the thread itself, or in a :class:`ChatMessageStore` shared by
many threads (in memory here; NATS KV in ``agentic_nb.nats``).

Example::

    >>> import asyncio
    >>> from agentic_nb.llm import ChatMessage
    >>> t = AgentThread(agent_id="helper", metadata={"user_id": "u1"})
    >>> asyncio.run(t.add_messages([ChatMessage.user("hi")]))
    >>> AgentThread.from_json(t.to_json()).messages[0].text
    'hi'
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from agentic_nb.llm import ChatMessage
from agentic_nb.workflow.codec import decode, encode

THREAD_FORMAT = 1


@runtime_checkable
class ChatMessageStore(Protocol):
    """Where thread messages live, keyed by thread id (all methods async).

    Implement these three methods to keep conversations in a database, a cache
    or a KV bucket.
    """

    async def list_messages(self, thread_id: str) -> list[ChatMessage]:
        """All messages of the thread, oldest first (empty list for a new thread)."""
        ...

    async def add_messages(self, thread_id: str, messages: Sequence[ChatMessage]) -> None:
        """Append messages to the thread."""
        ...

    async def clear(self, thread_id: str) -> None:
        """Forget the thread's messages."""
        ...


class InMemoryChatMessageStore:
    """A :class:`ChatMessageStore` in a dict (per process).

    Example::

        >>> import asyncio
        >>> store = InMemoryChatMessageStore()
        >>> asyncio.run(store.add_messages("t1", [ChatMessage.user("hi")]))
        >>> len(asyncio.run(store.list_messages("t1")))
        1
    """

    def __init__(self) -> None:
        self._threads: dict[str, list[ChatMessage]] = {}

    async def list_messages(self, thread_id: str) -> list[ChatMessage]:
        return list(self._threads.get(thread_id, ()))

    async def add_messages(self, thread_id: str, messages: Sequence[ChatMessage]) -> None:
        self._threads.setdefault(thread_id, []).extend(messages)

    async def clear(self, thread_id: str) -> None:
        self._threads.pop(thread_id, None)

    def __len__(self) -> int:
        return len(self._threads)


class AgentThread:
    """One conversation: ``id``, ``agent_id``, ``metadata`` and its messages.

    Without a ``store`` the messages are kept in ``thread.messages`` and
    serialized with the thread; with a store they live there and only the
    thread's id and metadata are serialized. ``to_json`` / ``from_json`` use
    agentic_nb's type-tagged JSON (never pickle).

    Example::

        >>> t = AgentThread(id="t1", agent_id="bot")
        >>> t2 = AgentThread.from_json(t.to_json())
        >>> (t2.id, t2.agent_id, t2.messages)
        ('t1', 'bot', [])
    """

    def __init__(
        self,
        *,
        id: str | None = None,
        agent_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        messages: Sequence[ChatMessage] = (),
        store: ChatMessageStore | None = None,
    ) -> None:
        self.id: str = id or uuid.uuid4().hex
        self.agent_id = agent_id
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.store = store
        self.messages: list[ChatMessage] = list(messages)
        if store is not None and messages:
            raise ValueError(
                f"thread {self.id!r}: give either messages= or store=, not both (the store "
                f"owns the messages; add them with await thread.add_messages(...))"
            )

    async def get_messages(self) -> list[ChatMessage]:
        """The conversation so far (read from the store when there is one)."""
        if self.store is not None:
            self.messages = await self.store.list_messages(self.id)
        return list(self.messages)

    async def add_messages(self, messages: Sequence[ChatMessage]) -> None:
        """Append to the conversation (and to the store when there is one)."""
        if self.store is not None:
            await self.store.add_messages(self.id, messages)
        self.messages.extend(messages)

    async def clear(self) -> None:
        if self.store is not None:
            await self.store.clear(self.id)
        self.messages = []

    # --------------------------------------------------------- serialization
    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible data of the thread (messages included unless a store owns them)."""
        data: dict[str, Any] = {
            "format": THREAD_FORMAT,
            "id": self.id,
            "agent_id": self.agent_id,
            "metadata": encode(self.metadata),
            "in_store": self.store is not None,
        }
        if self.store is None:
            data["messages"] = encode(self.messages)
        return data

    def to_json(self) -> str:
        """Serialize (for a pause, a transfer, a KV bucket)."""
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, store: ChatMessageStore | None = None
    ) -> AgentThread:
        if not isinstance(data, dict) or data.get("format") != THREAD_FORMAT:
            raise ValueError(
                f"not a serialized AgentThread (format {THREAD_FORMAT} expected): {str(data)[:120]}"
            )
        if data.get("in_store") and store is None:
            raise ValueError(
                f"thread {data.get('id')!r} keeps its messages in a ChatMessageStore: pass the "
                f"same store, AgentThread.from_json(text, store=...)"
            )
        messages = decode(data.get("messages") or [])
        return cls(
            id=data["id"],
            agent_id=data.get("agent_id"),
            metadata=decode(data.get("metadata") or {}),
            messages=messages if store is None else (),
            store=store,
        )

    @classmethod
    def from_json(cls, text: str | bytes, *, store: ChatMessageStore | None = None) -> AgentThread:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text), store=store)

    def __repr__(self) -> str:
        where = "store" if self.store is not None else f"{len(self.messages)} messages"
        return f"AgentThread(id={self.id!r}, agent_id={self.agent_id!r}, {where})"
