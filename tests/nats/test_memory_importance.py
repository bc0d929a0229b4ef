"""NatsKvMemoryProvider follows the memory model: categories, importance, ranked recall
within a budget, least important forgotten first (against a real nats-server)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentic_nb.agents import (
    AgentResponse,
    AgentThread,
    InMemoryMemoryProvider,
    Memory,
    MemoryCategory,
    MemoryContext,
)
from agentic_nb.llm import ChatMessage
from agentic_nb.nats import NatsKvMemoryProvider, connect


async def test_categories_importance_and_ranked_recall_survive_the_connection(
    nc: Any, nats_server: Any
) -> None:
    mem = NatsKvMemoryProvider(nc, budget_tokens=25)
    await mem.remember("bot", "ada", "allergic to peanuts", "fact", importance=1.0)
    await mem.remember("bot", "ada", "prefers French", MemoryCategory.PREFERENCE, 0.9)
    await mem.remember("bot", "ada", "said hello on a rainy Tuesday", importance=0.1)
    await mem.remember("bot", "ada", "owns a cargo bike")
    await nc.close()
    other = await connect(nats_server.url)
    try:
        again = NatsKvMemoryProvider(other, budget_tokens=25)
        stored = await again.memories("bot", "ada")
        assert [(m.category, m.importance) for m in stored] == [
            (MemoryCategory.FACT, 1.0),
            (MemoryCategory.PREFERENCE, 0.9),
            (MemoryCategory.FACT, 0.1),
            (MemoryCategory.FACT, 0.5),
        ]
        ranked = await again.recall("bot", "ada", budget_tokens=1000)
        assert [m.text for m in ranked] == [
            "allergic to peanuts",
            "prefers French",
            "owns a cargo bike",
            "said hello on a rainy Tuesday",
        ]
        prefs = await again.recall("bot", "ada", categories=[MemoryCategory.PREFERENCE])
        assert [m.text for m in prefs] == ["prefers French"]
        # Within the 25-token budget the trivia is left out of the prompt.
        ctx = MemoryContext()
        await again.before_invoke("bot", AgentThread(metadata={"user_id": "ada"}), [], ctx)
        assert ctx.extra_instructions == [
            "What you remember about this user:\n- allergic to peanuts\n- prefers French\n"
            "- owns a cargo bike"
        ]
        # The same answer as the in-memory provider given the same memories.
        local = InMemoryMemoryProvider(budget_tokens=25)
        local._store[("bot", "ada")] = stored
        assert [m.text for m in local.recall("bot", "ada")] == [
            m.text for m in await again.recall("bot", "ada")
        ]
    finally:
        await other.close()


async def test_least_important_forgotten_first_and_importance_raised(nc: Any) -> None:
    mem = NatsKvMemoryProvider(nc, max_memories=2)
    await mem.remember("bot", "bo", "key fact", importance=0.9)
    await mem.remember("bot", "bo", "trivia", importance=0.1)
    await mem.remember("bot", "bo", "new fact")
    assert [m.text for m in await mem.memories("bot", "bo")] == ["key fact", "new fact"]
    await mem.remember("bot", "bo", "new fact", importance=0.7)  # known: importance rises
    assert [(m.text, m.importance) for m in await mem.memories("bot", "bo")] == [
        ("key fact", 0.9),
        ("new fact", 0.7),
    ]


async def test_an_extractor_may_return_memories_with_category_and_importance(nc: Any) -> None:
    def extractor(messages: Sequence[ChatMessage], response: AgentResponse) -> list[object]:
        return [Memory("wants a refund", MemoryCategory.EVENT, importance=0.8), "likes tea"]

    mem = NatsKvMemoryProvider(nc, extractor=extractor)
    thread = AgentThread(metadata={"user_id": "cy"})
    await mem.after_invoke("bot", thread, [ChatMessage.user("x")], AgentResponse(messages=[]))
    assert [(m.text, m.category, m.importance) for m in await mem.memories("bot", "cy")] == [
        ("wants a refund", "event", 0.8),
        ("likes tea", "fact", 0.5),
    ]
