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
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agentic_nb.llm import ChatMessage, estimate_tokens
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
class MemoryCategory(StrEnum):
    """What kind of thing a memory is (a ``str``: ``MemoryCategory.FACT == "fact"``).

    Example::

        >>> MemoryCategory("preference") is MemoryCategory.PREFERENCE
        True
    """

    FACT = "fact"
    PREFERENCE = "preference"
    INSTRUCTION = "instruction"
    EVENT = "event"
    CONTEXT = "context"


#: Default importance of a memory (0 = trivia, 1 = must never be forgotten).
DEFAULT_IMPORTANCE = 0.5

#: Recency half-life of memory ranking: a week-old memory counts half as recent.
DEFAULT_HALF_LIFE = 7 * 24 * 3600.0


@register_checkpoint_type
@dataclass
class Memory:
    """One remembered fact: its text, :class:`MemoryCategory`, when it was learned and
    how important it is (0..1).

    Example::

        >>> m = Memory("likes tea")
        >>> m.category == "fact", m.category is MemoryCategory.FACT, m.importance
        (True, True, 0.5)
    """

    text: str
    category: MemoryCategory = MemoryCategory.FACT
    created_at: float = field(default_factory=time.time)
    importance: float = DEFAULT_IMPORTANCE

    def __post_init__(self) -> None:
        self.category = as_category(self.category, f"Memory {self.text[:40]!r}")
        imp = self.importance
        if isinstance(imp, bool) or not isinstance(imp, (int, float)) or not 0 <= imp <= 1:
            raise ValueError(
                f"Memory {self.text[:40]!r}: importance must be a number from 0 to 1, got {imp!r}"
            )
        self.importance = float(imp)


def as_category(value: MemoryCategory | str, where: str = "memory") -> MemoryCategory:
    """``value`` as a :class:`MemoryCategory`, or a ValueError listing the categories.

    Example::

        >>> as_category("event")
        <MemoryCategory.EVENT: 'event'>
    """
    try:
        return MemoryCategory(value)
    except ValueError:
        raise ValueError(
            f"{where}: category {value!r} is not one of {[c.value for c in MemoryCategory]}"
        ) from None


def memory_score(
    memory: Memory,
    now: float,
    *,
    half_life: float = DEFAULT_HALF_LIFE,
    importance_weight: float = 1.0,
    recency_weight: float = 1.0,
) -> float:
    """How much a memory deserves a place in the prompt: ``importance_weight *
    importance + recency_weight * 0.5 ** (age / half_life)``.

    Example::

        >>> round(memory_score(Memory("x", created_at=0.0, importance=1.0), now=0.0), 2)
        2.0
    """
    age = max(0.0, now - memory.created_at)
    recency = math.pow(0.5, age / half_life) if half_life > 0 else 0.0
    return importance_weight * memory.importance + recency_weight * recency


def rank_memories(
    memories: Iterable[Memory],
    *,
    budget_tokens: int | None = None,
    limit: int | None = None,
    categories: Iterable[MemoryCategory | str] | None = None,
    now: float | None = None,
    half_life: float = DEFAULT_HALF_LIFE,
    importance_weight: float = 1.0,
    recency_weight: float = 1.0,
) -> list[Memory]:
    """The memories worth recalling, best first (see :func:`memory_score`), keeping
    only ``categories`` when given, at most ``limit`` of them and no more than
    ``budget_tokens`` of text (estimated; a memory that does not fit is skipped and
    smaller ones after it may still fit).

    Example::

        >>> old_key = Memory("allergic to nuts", created_at=0.0, importance=1.0)
        >>> new_trivia = Memory("said hi", created_at=1e6, importance=0.1)
        >>> [m.text for m in rank_memories([new_trivia, old_key], now=1e6)]
        ['allergic to nuts', 'said hi']
        >>> [m.text for m in rank_memories([new_trivia, old_key], now=1e6, budget_tokens=4)]
        ['said hi']
    """
    when = time.time() if now is None else now
    wanted = {as_category(c) for c in categories} if categories is not None else None
    pool = [m for m in memories if wanted is None or m.category in wanted]
    pool.sort(
        key=lambda m: (
            -memory_score(
                m,
                when,
                half_life=half_life,
                importance_weight=importance_weight,
                recency_weight=recency_weight,
            ),
            -m.created_at,
        )
    )
    out: list[Memory] = []
    used = 0
    for m in pool:
        if limit is not None and len(out) >= limit:
            break
        cost = estimate_tokens(m.text) + 2  # "- " and the newline
        if budget_tokens is not None and used + cost > budget_tokens:
            continue
        out.append(m)
        used += cost
    return out


def merge_memories(items: list[Memory], new: Iterable[Memory], max_memories: int) -> list[Memory]:
    """``items`` plus ``new`` (a known text keeps its entry, raised to the higher
    importance); over ``max_memories``, the least important go first, then the oldest.

    Example::

        >>> kept = merge_memories([Memory("a", importance=0.9, created_at=1.0)],
        ...     [Memory("b", created_at=2.0), Memory("c", created_at=3.0)], 2)
        >>> [m.text for m in kept]
        ['a', 'c']
    """
    out = list(items)
    for m in new:
        known = next((x for x in out if x.text == m.text), None)
        if known is not None:
            if m.importance > known.importance:
                out[out.index(known)] = Memory(
                    known.text, known.category, known.created_at, m.importance
                )
            continue
        out.append(m)
    while len(out) > max_memories:
        out.remove(min(out, key=lambda x: (x.importance, x.created_at)))
    return out


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
    [Sequence[ChatMessage], AgentResponse],
    "Sequence[str | Memory] | Awaitable[Sequence[str | Memory]]",
]


class InMemoryMemoryProvider:
    """Memories per (agent id, user id) in a dict; the user id is
    ``thread.metadata["user_id"]`` (``"default"`` when absent).

    Memories come from :meth:`remember` and, after each invocation, from
    ``extractor(messages, response)`` — a function returning texts or
    :class:`Memory` objects (with category and importance), or any agent whose
    answer lists one fact per line (e.g. a small ChatAgent told to extract facts).
    Before each invocation the user's memories best ranked by importance and
    recency (:func:`rank_memories`), within ``budget_tokens``, are added to the
    instructions (oldest first). Past ``max_memories`` the least important are
    forgotten first.

    Example::

        >>> mem = InMemoryMemoryProvider(budget_tokens=12)
        >>> mem.remember("bot", "u1", "is allergic to nuts", "fact", importance=1.0)
        >>> mem.remember("bot", "u1", "said hello on a Tuesday morning", importance=0.1)
        >>> [m.text for m in mem.recall("bot", "u1")]
        ['is allergic to nuts']
    """

    def __init__(
        self,
        *,
        extractor: Extractor | Any = None,
        max_memories: int = 50,
        budget_tokens: int | None = 1000,
        half_life: float = DEFAULT_HALF_LIFE,
    ) -> None:
        self.extractor = extractor
        self.max_memories = max_memories
        self.budget_tokens = budget_tokens
        self.half_life = half_life
        self._store: dict[tuple[str, str], list[Memory]] = {}

    @staticmethod
    def user_of(thread: AgentThread) -> str:
        return str(thread.metadata.get("user_id", "default"))

    def remember(
        self,
        agent_id: str,
        user_id: str,
        text: str,
        category: MemoryCategory | str = MemoryCategory.FACT,
        importance: float = DEFAULT_IMPORTANCE,
    ) -> None:
        """Store a memory explicitly (a known text only has its importance raised)."""
        self._add(
            agent_id, user_id, [Memory(text, MemoryCategory(category), importance=importance)]
        )

    def _add(self, agent_id: str, user_id: str, new: Iterable[Memory]) -> None:
        key = (agent_id, user_id)
        self._store[key] = merge_memories(self._store.get(key, []), new, self.max_memories)

    def memories(self, agent_id: str, user_id: str) -> list[Memory]:
        """Every memory of ``user_id`` for ``agent_id``, oldest first."""
        return list(self._store.get((agent_id, user_id), ()))

    def recall(
        self,
        agent_id: str,
        user_id: str,
        *,
        budget_tokens: int | None = None,
        categories: Iterable[MemoryCategory | str] | None = None,
        limit: int | None = None,
    ) -> list[Memory]:
        """The memories worth a place in the prompt, best first (see :func:`rank_memories`;
        ``budget_tokens`` defaults to the provider's)."""
        return rank_memories(
            self.memories(agent_id, user_id),
            budget_tokens=self.budget_tokens if budget_tokens is None else budget_tokens,
            categories=categories,
            limit=limit,
            half_life=self.half_life,
        )

    async def before_invoke(
        self,
        agent_id: str,
        thread: AgentThread,
        messages: Sequence[ChatMessage],
        context: MemoryContext,
    ) -> None:
        add_memories_to(context, self.recall(agent_id, self.user_of(thread)))

    async def after_invoke(
        self,
        agent_id: str,
        thread: AgentThread,
        messages: Sequence[ChatMessage],
        response: AgentResponse,
    ) -> None:
        if self.extractor is None:
            return
        found = await extract_memories(self.extractor, messages, response)
        self._add(agent_id, self.user_of(thread), found)


def add_memories_to(context: MemoryContext, found: Sequence[Memory]) -> None:
    """Put a user's memories into the instructions of the coming invocation, oldest
    first (shared by every memory provider, so all of them prompt the same way)."""
    if found:
        ordered = sorted(found, key=lambda m: m.created_at)
        lines = "\n".join(f"- {m.text}" for m in ordered)
        context.extra_instructions.append(f"What you remember about this user:\n{lines}")


async def extract_memories(
    extractor: Extractor | Any, messages: Sequence[ChatMessage], response: AgentResponse
) -> list[Memory]:
    """Memories from one exchange: what ``extractor`` found, as :class:`Memory`
    (texts become facts of default importance; list markers and blanks dropped).

    ``extractor`` is a function ``(messages, response) -> texts or Memory objects``
    (sync or async), or an agent whose answer lists one fact per line.
    """
    run = getattr(extractor, "run", None)
    if run is not None and hasattr(extractor, "new_thread"):  # an agent
        transcript = "\n".join(f"{m.role}: {m.text}" for m in [*messages, *response.messages])
        answer = await run(
            f"List the lasting facts about the user in this exchange, one per line "
            f"(nothing if none):\n{transcript}"
        )
        raw: Sequence[Any] = answer.text.splitlines()
    else:
        result = extractor(messages, response)
        if inspect.isawaitable(result):
            result = await result
        raw = list(result or [])
    out: list[Memory] = []
    for item in raw:
        if isinstance(item, Memory):
            out.append(item)
            continue
        if not isinstance(item, str):
            raise TypeError(
                f"memory extractor {extractor!r} returned {type(item).__name__} {item!r}; "
                f"return texts or Memory objects"
            )
        text = item.strip().lstrip("-*• ").strip()
        if text:
            out.append(Memory(text))
    return out


async def extract_facts(
    extractor: Extractor | Any, messages: Sequence[ChatMessage], response: AgentResponse
) -> list[str]:
    """The texts of :func:`extract_memories` (kept for callers that want strings)."""
    return [m.text for m in await extract_memories(extractor, messages, response)]
