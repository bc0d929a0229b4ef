"""Memory categories and importance; recall ranked by importance and recency within a
budget; the sliding window keeps important messages ("recent + important")."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from agentic_nb.agents import (
    AgentResponse,
    AgentThread,
    ChatAgent,
    InMemoryMemoryProvider,
    Memory,
    MemoryCategory,
    MemoryContext,
    SlidingWindowReducer,
    memory_score,
    merge_memories,
    rank_memories,
)
from agentic_nb.llm import ChatMessage, ScriptedChatClient
from agentic_nb.workflow.codec import dumps, loads

DAY = 24 * 3600.0


def test_categories_and_importance_are_validated_and_survive_the_codec() -> None:
    m = Memory("vegetarian", "preference", importance=0.9)
    assert m.category is MemoryCategory.PREFERENCE and m.category == "preference"
    back = loads(dumps([m]))
    assert back == [m] and back[0].category is MemoryCategory.PREFERENCE
    # Memories stored before importance existed load with the default importance.
    old = loads(dumps(Memory("x")).replace(', "importance": 0.5', ""))
    assert old.importance == 0.5
    with pytest.raises(ValueError, match=r"category 'gossip' is not one of \['fact', "):
        Memory("x", "gossip")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="importance must be a number from 0 to 1"):
        Memory("x", importance=1.5)


def test_ranking_weighs_importance_and_recency_within_a_budget() -> None:
    now = 1_000 * DAY
    critical_old = Memory("allergic to peanuts", created_at=now - 60 * DAY, importance=1.0)
    trivia_new = Memory("said hi", created_at=now, importance=0.1)
    mid_new = Memory("likes red bikes", created_at=now - DAY, importance=0.5)
    trivia_old = Memory("mentioned rain", created_at=now - 90 * DAY, importance=0.1)
    pool = [trivia_old, mid_new, trivia_new, critical_old]
    ranked = rank_memories(pool, now=now)
    assert [m.text for m in ranked] == [
        "likes red bikes",  # 0.5 + ~0.9
        "said hi",  # 0.1 + 1.0
        "allergic to peanuts",  # 1.0 + ~0.003
        "mentioned rain",
    ]
    # Importance alone, or recency alone.
    assert rank_memories(pool, now=now, recency_weight=0)[0] is critical_old
    assert rank_memories(pool, now=now, importance_weight=0)[0] is trivia_new
    assert memory_score(critical_old, now, half_life=60 * DAY) == pytest.approx(1.5)
    # Budget: what does not fit is skipped, smaller ones after it still fit.
    big = Memory("x" * 400, created_at=now, importance=1.0)
    fitted = rank_memories([big, *pool], now=now, budget_tokens=25)
    assert big not in fitted and len(fitted) == 4
    assert rank_memories(pool, now=now, limit=1) == [mid_new]
    assert rank_memories(pool, now=now, categories=["preference"]) == []


def test_over_the_limit_the_least_important_are_forgotten_first() -> None:
    items = [
        Memory("key", importance=0.9, created_at=1.0),
        Memory("old trivia", importance=0.1, created_at=2.0),
    ]
    kept = merge_memories(items, [Memory("new", created_at=3.0)], 2)
    assert [m.text for m in kept] == ["key", "new"]
    # A known text is not duplicated, but its importance may rise.
    kept = merge_memories(kept, [Memory("new", importance=0.8)], 2)
    assert [(m.text, m.importance) for m in kept] == [("key", 0.9), ("new", 0.8)]


async def test_the_provider_injects_the_best_memories_within_its_budget() -> None:
    def extractor(messages: Sequence[ChatMessage], response: AgentResponse) -> list[object]:
        return [
            Memory("rides to work daily", MemoryCategory.EVENT, importance=0.3),
            "- owns a cargo bike",
        ]

    mem = InMemoryMemoryProvider(extractor=extractor, budget_tokens=25)
    mem.remember("bot", "ada", "allergic to peanuts", "fact", importance=1.0)
    mem.remember("bot", "ada", "prefers answers in French", MemoryCategory.INSTRUCTION, 0.9)
    client = ScriptedChatClient(["Bonjour", "Salut"])
    bot = ChatAgent(client, "Help.", name="bot", memory=mem)
    thread = AgentThread(metadata={"user_id": "ada"})
    await bot.invoke("hi", thread)
    stored = mem.memories("bot", "ada")
    assert [(m.text, m.category) for m in stored][2:] == [
        ("rides to work daily", "event"),
        ("owns a cargo bike", "fact"),
    ]
    await bot.invoke("again", thread)
    system = client.requests[1].messages[0].text
    # 25 tokens hold three memories: the two important ones and the newer default one.
    assert "- allergic to peanuts\n- prefers answers in French\n- owns a cargo bike" in system
    assert "rides to work" not in system
    recalled = mem.recall("bot", "ada", budget_tokens=1000, categories=["instruction"])
    assert [m.text for m in recalled] == ["prefers answers in French"]
    ctx = MemoryContext()
    await mem.before_invoke("bot", AgentThread(metadata={"user_id": "nobody"}), [], ctx)
    assert ctx.extra_instructions == []


async def test_extractor_returning_something_else_fails_clearly() -> None:
    mem = InMemoryMemoryProvider(extractor=lambda msgs, resp: [42])
    with pytest.raises(TypeError, match="returned int 42; return texts or Memory objects"):
        await mem.after_invoke("bot", AgentThread(), [], AgentResponse(messages=[]))


async def test_sliding_window_keeps_recent_and_important_messages() -> None:
    call = ScriptedChatClient.calls(("lookup", {"q": "budget"}))
    result = ChatMessage.tool_result(call.tool_calls[0].call_id, "budget: 500 EUR")
    msgs = [
        ChatMessage.system("Help."),
        ChatMessage.user("I need a bike"),
        ChatMessage.assistant("What budget?"),
        ChatMessage.user("IMPORTANT: under 500 EUR"),
        call,
        result,
        ChatMessage.assistant("Noted."),
        ChatMessage.user("Colour red"),
        ChatMessage.assistant("ok"),
        ChatMessage.user("Which one?"),
    ]
    plain = await SlidingWindowReducer(1).reduce(msgs)
    assert [m.text for m in plain] == ["Help.", "Which one?"]

    def important(m: ChatMessage) -> float:
        if m.text.startswith("IMPORTANT"):
            return 1.0
        return 0.9 if any("budget" in r.result for r in m.tool_results) else 0.0

    kept = await SlidingWindowReducer(1, important=important).reduce(msgs)
    # The important tool result keeps its call; order is the conversation's.
    assert kept == [msgs[0], msgs[3], call, result, msgs[9]]
    first = await SlidingWindowReducer(1, keep_first_user=True).reduce(msgs)
    assert [m.text for m in first] == ["Help.", "I need a bike", "Which one?"]
    limited = await SlidingWindowReducer(
        1, important=important, keep_first_user=True, max_important=2
    ).reduce(msgs)
    assert limited == [msgs[0], call, result, msgs[9]]  # the most recent important ones
    with pytest.raises(TypeError, match="important must be a callable"):
        SlidingWindowReducer(2, important="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_important must be >= 0"):
        SlidingWindowReducer(2, max_important=-1)


def test_recency_uses_the_clock_by_default() -> None:
    fresh = Memory("now")
    assert memory_score(fresh, time.time()) == pytest.approx(1.5, abs=1e-3)
