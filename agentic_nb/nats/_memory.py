"""NatsKvMemoryProvider: long-term agent memories in the ``agentic_memories`` KV bucket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from agentic_nb._optional import require
from agentic_nb.agents import (
    DEFAULT_HALF_LIFE,
    DEFAULT_IMPORTANCE,
    InMemoryMemoryProvider,
    Memory,
    MemoryCategory,
    MemoryContext,
    add_memories_to,
    as_category,
    extract_memories,
    merge_memories,
    rank_memories,
)
from agentic_nb.workflow.codec import decode, encode

from ._streams import ensure_bucket, kv_get
from ._subjects import encode_token

if TYPE_CHECKING:
    from agentic_nb.agents._thread import AgentThread
    from agentic_nb.agents._types import AgentResponse
    from agentic_nb.llm import ChatMessage

MEMORIES_BUCKET = "agentic_memories"

_MAX_ATTEMPTS = 50


class NatsKvMemoryProvider:
    """A ``MemoryProvider`` (see ``agentic_nb.agents``) whose memories live in NATS KV,
    so they survive the process and are shared by every agent connected to the server.

    It behaves like :class:`~agentic_nb.agents.InMemoryMemoryProvider`: memories are
    kept per (agent id, user id), the user id being ``thread.metadata["user_id"]``
    (``"default"`` when absent); they come from :meth:`remember` and, after each
    invocation, from ``extractor(messages, response)`` (a function returning texts or
    :class:`~agentic_nb.agents.Memory` objects, or an agent that answers one fact per
    line); a known text only has its importance raised; past ``max_memories`` the
    least important (then oldest) are forgotten; before each invocation the memories
    ranked best by importance and recency within ``budget_tokens`` (:meth:`recall`)
    are added to the instructions.

    Each (agent, user) pair is one key, ``memory.<agent>.<user>`` (both tokens
    encoded, so ids may hold ``.``, ``*``, ``>`` or spaces), holding the
    codec-encoded list of :class:`~agentic_nb.agents.Memory`. Writes use optimistic
    concurrency (``update`` on the revision that was read, retried on conflict), so
    two processes remembering at once never lose each other's memories.

    Example::

        >>> import asyncio
        >>> from agentic_nb.agents import AgentThread, MemoryContext
        >>> from agentic_nb.nats import LocalNatsServer, connect
        >>> async def main(url):
        ...     nc = await connect(url)
        ...     await NatsKvMemoryProvider(nc).remember("bot", "u1", "prefers French")
        ...     await nc.close()
        ...     nc = await connect(url)  # another connection, e.g. another process
        ...     ctx = MemoryContext()
        ...     thread = AgentThread(metadata={"user_id": "u1"})
        ...     await NatsKvMemoryProvider(nc).before_invoke("bot", thread, [], ctx)
        ...     await nc.close()
        ...     return ctx.extra_instructions
        >>> with LocalNatsServer() as server:
        ...     asyncio.run(main(server.url))
        ['What you remember about this user:\\n- prefers French']
    """

    def __init__(
        self,
        connection: Any,
        *,
        bucket: str = MEMORIES_BUCKET,
        extractor: Any = None,
        max_memories: int = 50,
        budget_tokens: int | None = 1000,
        half_life: float = DEFAULT_HALF_LIFE,
    ) -> None:
        if max_memories < 0:
            raise ValueError(f"NatsKvMemoryProvider: max_memories must be >= 0, got {max_memories}")
        self.nc = connection
        self.bucket = bucket
        self.extractor = extractor
        self.max_memories = max_memories
        self.budget_tokens = budget_tokens
        self.half_life = half_life
        self._kv: Any = None

    user_of = staticmethod(InMemoryMemoryProvider.user_of)

    async def _store(self) -> Any:
        if self._kv is None:
            self._kv = await ensure_bucket(self.nc.jetstream(), self.bucket)
        return self._kv

    @staticmethod
    def _key(agent_id: str, user_id: str) -> str:
        return f"memory.{encode_token(agent_id)}.{encode_token(user_id)}"

    async def _entry(self, key: str) -> Any:
        return await kv_get(await self._store(), key)

    def _decode(self, key: str, entry: Any) -> list[Memory]:
        if entry is None or not entry.value:
            return []
        items = decode(json.loads(entry.value))
        if not isinstance(items, list) or not all(isinstance(m, Memory) for m in items):
            raise ValueError(
                f"NatsKvMemoryProvider: key {key!r} of KV bucket {self.bucket!r} does not hold "
                f"a list of Memory; purge it or use another bucket"
            )
        return items

    async def memories(self, agent_id: str, user_id: str) -> list[Memory]:
        """The memories of ``user_id`` for ``agent_id``, oldest first."""
        key = self._key(agent_id, user_id)
        return self._decode(key, await self._entry(key))

    async def remember(
        self,
        agent_id: str,
        user_id: str,
        text: str,
        category: MemoryCategory | str = MemoryCategory.FACT,
        importance: float = DEFAULT_IMPORTANCE,
    ) -> None:
        """Store a memory explicitly (a known text only has its importance raised)."""
        await self._add(
            agent_id, user_id, [Memory(text, as_category(category), importance=importance)]
        )

    async def recall(
        self,
        agent_id: str,
        user_id: str,
        *,
        budget_tokens: int | None = None,
        categories: Iterable[MemoryCategory | str] | None = None,
        limit: int | None = None,
    ) -> list[Memory]:
        """The memories worth a place in the prompt, best first by importance and
        recency, within ``budget_tokens`` (default: the provider's)."""
        return rank_memories(
            await self.memories(agent_id, user_id),
            budget_tokens=self.budget_tokens if budget_tokens is None else budget_tokens,
            categories=categories,
            limit=limit,
            half_life=self.half_life,
        )

    async def clear(self, agent_id: str, user_id: str) -> None:
        """Forget everything remembered about ``user_id`` for ``agent_id``."""
        kv = await self._store()
        await kv.purge(self._key(agent_id, user_id))

    async def _add(self, agent_id: str, user_id: str, new: Iterable[Memory]) -> None:
        new = list(new)
        if not new:
            return
        errors = require("nats.js.errors", "nats")
        kv = await self._store()
        key = self._key(agent_id, user_id)
        for attempt in range(_MAX_ATTEMPTS):
            entry = await self._entry(key)
            items = self._decode(key, entry)
            before = list(items)
            items = merge_memories(items, new, self.max_memories)  # as InMemoryMemoryProvider
            if items == before:
                return  # nothing new: no write
            body = json.dumps(encode(items), separators=(",", ":")).encode()
            try:
                if entry is None:
                    await kv.create(key, body)
                else:
                    await kv.update(key, body, last=entry.revision)
                return
            except errors.KeyWrongLastSequenceError:  # someone wrote meanwhile: re-read
                await asyncio.sleep(0.005 * (attempt + 1))
        raise RuntimeError(
            f"NatsKvMemoryProvider: could not store memories for agent {agent_id!r}, user "
            f"{user_id!r} after {_MAX_ATTEMPTS} attempts: too much contention on key {key!r}"
        )

    async def before_invoke(
        self,
        agent_id: str,
        thread: AgentThread,
        messages: Sequence[ChatMessage],
        context: MemoryContext,
    ) -> None:
        add_memories_to(context, await self.recall(agent_id, self.user_of(thread)))

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
        await self._add(agent_id, self.user_of(thread), found)
