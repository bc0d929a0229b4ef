"""Agent threads in NATS KV: the ChatMessageStore protocol, concurrent appends."""

from __future__ import annotations

import asyncio
from typing import Any

from agentic_nb.agents._thread import ChatMessageStore
from agentic_nb.llm import ChatMessage
from agentic_nb.nats import NatsKvChatMessageStore, connect


async def test_store_protocol_and_isolation(nc: Any) -> None:
    store = NatsKvChatMessageStore(nc)
    assert isinstance(store, ChatMessageStore)
    assert await store.list_messages("a.b") == []
    await store.add_messages("a.b", [ChatMessage.user("one")])
    await store.add_messages("a.b", [ChatMessage.user("two")])
    await store.add_messages("a", [ChatMessage.user("other")])
    assert [m.text for m in await store.list_messages("a.b")] == ["one", "two"]
    assert [m.text for m in await store.list_messages("a")] == ["other"]
    await store.clear("a.b")
    assert await store.list_messages("a.b") == []


async def test_concurrent_appends_from_two_connections_lose_nothing(
    nc: Any, nats_server: Any
) -> None:
    other = await connect(nats_server.url)
    s1, s2 = NatsKvChatMessageStore(nc), NatsKvChatMessageStore(other)

    async def add(store: NatsKvChatMessageStore, who: str) -> None:
        for i in range(10):
            await store.add_messages("t", [ChatMessage.user(f"{who}{i}")])

    await asyncio.gather(add(s1, "x"), add(s2, "y"))
    texts = [m.text for m in await s1.list_messages("t")]
    assert sorted(texts) == sorted([f"x{i}" for i in range(10)] + [f"y{i}" for i in range(10)])
    await other.close()
