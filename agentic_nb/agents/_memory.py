"""Long-term agent memory: providers called before and after every agent invocation.

``before_invoke`` may add instructions or system messages to the request;
``after_invoke`` may extract and store memories from the exchange.

Example::

    >>> import asyncio
    >>> from agentic_nb.agents import AgentThread
    >>> mem = InMemoryMemoryProvider()
    >>> mem.remember("bot", "u1", "prefers French")
    >>> ctx = MemoryContext()
    >>> t = AgentThread(metadata={"user_id": "u1"})
    >>> asyncio.run(mem.before_invoke("bot", t, [], ctx))
    >>> "prefers French" in ctx.extra_instructions[0]
    True
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agentic_nb.llm import ChatMessage
from agentic_nb.workflow import register_checkpoint_type

from ._types import AgentResponse

if TYPE_CHECKING:
    from ._thread import AgentThread


@dataclass
class MemoryContext:
    """What memory providers may inject into the next model request."""

    extra_instructions: list[str] = field(default_factory=list)
    system_messages: list[ChatMessage] = field(default_factory=list)


@register_checkpoint_type
@dataclass
class Memory:
    """One remembered fact.

    Example::

        >>> Memory("likes tea").category
        'fact'
    """

    text: str
    category: str = "fact"
    created_at: float = field(default_factory=time.time)


@runtime_checkable
class MemoryProvider(Protocol):
    """Injects context before, and extracts memories after, each agent invocation."""

    async def before_invoke(
        self,
        agent_id: str,
        thread: AgentThread,
        messages: Sequence[ChatMessage],
        context: MemoryContext,
    ) -> None: ...

    async def after_invoke(
        self,
        agent_id: str,
        thread: AgentThread,
        messages: Sequence[ChatMessage],
        response: AgentResponse,
    ) -> None: ...


class NoOpMemoryProvider:
    """Remembers nothing (the default).

    Example::

        >>> isinstance(NoOpMemoryProvider(), MemoryProvider)
        True
    """

    async def before_invoke(
        self,
        agent_id: str,
        thread: AgentThread,
        messages: Sequence[ChatMessage],
        context: MemoryContext,
    ) -> None:
        return None

    async def after_invoke(
        self,
        agent_id: str,
        thread: AgentThread,
        messages: Sequence[ChatMessage],
        response: AgentResponse,
    ) -> None:
        return None


Extractor = Callable[
    [Sequence[ChatMessage], AgentResponse], "Sequence[str] | Awaitable[Sequence[str]]"
]


class InMemoryMemoryProvider:
    """Memories per (agent id, user id) in a dict; the user id is
    ``thread.metadata["user_id"]`` (``"default"`` when absent).

    Memories come from :meth:`remember` and, after each invocation, from
    ``extractor(messages, response)`` — a function, or any agent whose answer
    lists one fact per line (e.g. a small ChatAgent told to extract facts).
    Before each invocation the user's memories are added to the instructions.

    Example::

        >>> mem = InMemoryMemoryProvider(extractor=lambda msgs, resp: ["met the bot"])
        >>> mem.memories("bot", "u1")
        []
    """

    def __init__(self, *, extractor: Extractor | Any = None, max_memories: int = 50) -> None:
        self.extractor = extractor
        self.max_memories = max_memories
        self._store: dict[tuple[str, str], list[Memory]] = {}

    @staticmethod
    def user_of(thread: AgentThread) -> str:
        return str(thread.metadata.get("user_id", "default"))

    def remember(self, agent_id: str, user_id: str, text: str, category: str = "fact") -> None:
        """Store a memory explicitly (duplicates are ignored)."""
        items = self._store.setdefault((agent_id, user_id), [])
        if any(m.text == text for m in items):
            return
        items.append(Memory(text, category))
        del items[: max(0, len(items) - self.max_memories)]

    def memories(self, agent_id: str, user_id: str) -> list[Memory]:
        return list(self._store.get((agent_id, user_id), ()))

    async def before_invoke(
        self,
        agent_id: str,
        thread: AgentThread,
        messages: Sequence[ChatMessage],
        context: MemoryContext,
    ) -> None:
        add_memories_to(context, self.memories(agent_id, self.user_of(thread)))

    async def after_invoke(
        self,
        agent_id: str,
        thread: AgentThread,
        messages: Sequence[ChatMessage],
        response: AgentResponse,
    ) -> None:
        if self.extractor is None:
            return
        for fact in await extract_facts(self.extractor, messages, response):
            self.remember(agent_id, self.user_of(thread), fact)


def add_memories_to(context: MemoryContext, found: Sequence[Memory]) -> None:
    """Put a user's memories into the instructions of the coming invocation
    (shared by every memory provider, so all of them prompt the same way)."""
    if found:
        lines = "\n".join(f"- {m.text}" for m in found)
        context.extra_instructions.append(f"What you remember about this user:\n{lines}")


async def extract_facts(
    extractor: Extractor | Any, messages: Sequence[ChatMessage], response: AgentResponse
) -> list[str]:
    """Lasting facts from one exchange, cleaned of list markers and blanks.

    ``extractor`` is a function ``(messages, response) -> facts`` (sync or async), or
    an agent whose answer lists one fact per line.
    """
    run = getattr(extractor, "run", None)
    if run is not None and hasattr(extractor, "new_thread"):  # an agent
        transcript = "\n".join(f"{m.role}: {m.text}" for m in [*messages, *response.messages])
        answer = await run(
            f"List the lasting facts about the user in this exchange, one per line "
            f"(nothing if none):\n{transcript}"
        )
        raw: Sequence[str] = answer.text.splitlines()
    else:
        result = extractor(messages, response)
        if inspect.isawaitable(result):
            result = await result
        raw = list(result or [])
    cleaned = (fact.strip().lstrip("-*• ").strip() for fact in raw)
    return [fact for fact in cleaned if fact]
