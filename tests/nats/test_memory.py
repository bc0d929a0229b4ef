"""Agent memories in NATS KV: the MemoryProvider protocol against a real nats-server."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from agentic_nb.agents import (
    AgentResponse,
    AgentThread,
    ChatAgent,
    Memory,
    MemoryContext,
    MemoryProvider,
)
from agentic_nb.llm import ChatMessage, ScriptedChatClient
from agentic_nb.nats import NatsKvMemoryProvider, connect
from agentic_nb.nats._memory import MEMORIES_BUCKET


def remembered(messages: Sequence[ChatMessage], response: object) -> list[str]:
    """Extractor: every user line 'Remember: X' yields the fact X."""
    return [m.text.removeprefix("Remember: ") for m in messages if m.text.startswith("Remember: ")]


def thread(user: str | None = None) -> AgentThread:
    return AgentThread(metadata={} if user is None else {"user_id": user})


async def context_for(mem: NatsKvMemoryProvider, agent: str, user: str | None) -> list[str]:
    ctx = MemoryContext()
    await mem.before_invoke(agent, thread(user), [], ctx)
    return ctx.extra_instructions


def reply(text: str) -> AgentResponse:
    return AgentResponse(messages=[ChatMessage.assistant(text)])


async def test_memories_persist_across_connections_and_instances(nc: Any, nats_server: Any) -> None:
    writer = NatsKvMemoryProvider(nc, extractor=remembered)
    assert isinstance(writer, MemoryProvider)
    assert await context_for(writer, "bot", "ada") == []
    await writer.after_invoke(
        "bot", thread("ada"), [ChatMessage.user("Remember: likes green tea")], reply("ok")
    )
    await writer.after_invoke(
        "bot",
        thread("ada"),
        [
            ChatMessage.user("Remember: lives in Oslo"),
            ChatMessage.user("Remember: likes green tea"),
        ],
        reply("ok"),
    )
    await nc.close()

    other = await connect(nats_server.url)
    try:
        reader = NatsKvMemoryProvider(other)
        mems = await reader.memories("bot", "ada")
        assert [m.text for m in mems] == ["likes green tea", "lives in Oslo"]  # deduplicated
        assert all(isinstance(m, Memory) and m.category == "fact" for m in mems)
        assert await context_for(reader, "bot", "ada") == [
            "What you remember about this user:\n- likes green tea\n- lives in Oslo"
        ]
    finally:
        await other.close()


async def test_scoping_keeps_agents_and_users_apart(nc: Any) -> None:
    mem = NatsKvMemoryProvider(nc)
    await mem.remember("bot", "ada", "ada fact")
    await mem.remember("bot", "bob", "bob fact")
    await mem.remember("other-bot", "ada", "other agent fact")
    await mem.remember("bot", "default", "anonymous fact")
    assert [m.text for m in await mem.memories("bot", "ada")] == ["ada fact"]
    assert [m.text for m in await mem.memories("bot", "bob")] == ["bob fact"]
    assert [m.text for m in await mem.memories("other-bot", "ada")] == ["other agent fact"]
    # A thread without user_id is the "default" user, as with InMemoryMemoryProvider.
    assert await context_for(mem, "bot", None) == [
        "What you remember about this user:\n- anonymous fact"
    ]
    assert "bob fact" not in (await context_for(mem, "bot", "ada"))[0]
    # A separate bucket is a separate memory.
    assert await NatsKvMemoryProvider(nc, bucket="other_memories").memories("bot", "ada") == []


async def test_concurrent_after_invoke_from_two_connections_loses_nothing(
    nc: Any, nats_server: Any
) -> None:
    other = await connect(nats_server.url)
    try:
        m1 = NatsKvMemoryProvider(nc, extractor=remembered, max_memories=100)
        m2 = NatsKvMemoryProvider(other, extractor=remembered, max_memories=100)

        async def learn(mem: NatsKvMemoryProvider, who: str, i: int) -> None:
            msg = ChatMessage.user(f"Remember: {who}{i}")
            await mem.after_invoke("bot", thread("ada"), [msg], reply("ok"))

        # All writes start together, so most of them conflict and must retry.
        await asyncio.gather(
            *(learn(m1, "x", i) for i in range(10)), *(learn(m2, "y", i) for i in range(10))
        )
        texts = [m.text for m in await m2.memories("bot", "ada")]
        assert sorted(texts) == sorted([f"x{i}" for i in range(10)] + [f"y{i}" for i in range(10)])
    finally:
        await other.close()


async def test_chat_agent_sees_remembered_facts_in_its_request(nc: Any, nats_server: Any) -> None:
    client = ScriptedChatClient(["Noted."])
    agent = ChatAgent(
        client, "Be helpful.", name="butler", memory=NatsKvMemoryProvider(nc, extractor=remembered)
    )
    await agent.run("Remember: likes green tea", thread=agent.new_thread(user_id="ada"))
    assert "green tea" not in client.requests[0].messages[0].text  # nothing known yet

    # Another process: a new connection, a new provider, a new agent with the same id.
    other = await connect(nats_server.url)
    try:
        client2 = ScriptedChatClient(["You like green tea.", "?"])
        agent2 = ChatAgent(
            client2, "Be helpful.", name="butler", memory=NatsKvMemoryProvider(other)
        )
        assert agent2.id == agent.id
        await agent2.run("What do I like?", thread=agent2.new_thread(user_id="ada"))
        system = client2.requests[0].messages[0]
        assert system.role == "system" and system.text.startswith("Be helpful.")
        assert "What you remember about this user:\n- likes green tea" in system.text
        # Another user does not see it.
        await agent2.run("What do I like?", thread=agent2.new_thread(user_id="bob"))
        assert "green tea" not in client2.requests[1].messages[0].text
    finally:
        await other.close()


async def test_an_agent_as_extractor(nc: Any) -> None:
    extractor_client = ScriptedChatClient(["- likes tea\n\n* lives in Oslo\n"])
    extractor = ChatAgent(extractor_client, "Extract facts.", name="extractor")
    mem = NatsKvMemoryProvider(nc, extractor=extractor)
    await mem.after_invoke("bot", thread("ada"), [ChatMessage.user("I'm in Oslo")], reply("ok"))
    assert [m.text for m in await mem.memories("bot", "ada")] == ["likes tea", "lives in Oslo"]
    prompt = extractor_client.requests[0].messages[-1].text
    assert "user: I'm in Oslo" in prompt and "assistant: ok" in prompt


async def test_unsafe_ids_are_stored_safely(nc: Any) -> None:
    mem = NatsKvMemoryProvider(nc)
    agents = ["a.b", "a", "*", ">", "a b", "x.*.>", ""]
    users = ["u.1", "u", "*", "> all", "first last"]
    for a in agents:
        for u in users:
            await mem.remember(a, u, f"{a}|{u}")
    for a in agents:
        for u in users:
            assert [m.text for m in await mem.memories(a, u)] == [f"{a}|{u}"]
    # Keys from the stream itself (a KV watch can miss keys written just before it).
    info = await nc.jetstream().stream_info(f"KV_{MEMORIES_BUCKET}", subjects_filter=">")
    prefix = f"$KV.{MEMORIES_BUCKET}."
    keys = [subject.removeprefix(prefix) for subject in info.state.subjects]
    assert len(keys) == len(agents) * len(users)
    assert all(k.count(".") == 2 and not set(k) & {"*", ">", " "} for k in keys)
    assert "memory.a=2Eb.=3E=20all" in keys


async def test_duplicates_limits_and_clear(nc: Any) -> None:
    mem = NatsKvMemoryProvider(nc, max_memories=3)
    for text in ["one", "two", "one", "three", "four"]:
        await mem.remember("bot", "ada", text)
    await mem.remember("bot", "ada", "pref", category="preference")
    mems = await mem.memories("bot", "ada")
    assert [(m.text, m.category) for m in mems] == [
        ("three", "fact"),
        ("four", "fact"),
        ("pref", "preference"),
    ]
    await mem.clear("bot", "ada")
    assert await mem.memories("bot", "ada") == []
    assert await context_for(mem, "bot", "ada") == []
    await mem.remember("bot", "ada", "again")  # a cleared key can be written again
    assert [m.text for m in await mem.memories("bot", "ada")] == ["again"]


async def test_no_extractor_stores_nothing_after_invoke(nc: Any) -> None:
    mem = NatsKvMemoryProvider(nc)
    await mem.after_invoke("bot", thread("ada"), [ChatMessage.user("Remember: x")], reply("ok"))
    assert await mem.memories("bot", "ada") == []


async def test_bad_input_and_foreign_data_give_clear_errors(nc: Any) -> None:
    with pytest.raises(ValueError, match="max_memories must be >= 0"):
        NatsKvMemoryProvider(nc, max_memories=-1)
    mem = NatsKvMemoryProvider(nc)
    kv = await mem._store()
    await kv.put("memory.bot.ada", b'{"not": "memories"}')
    with pytest.raises(ValueError, match=r"'memory.bot.ada' of KV bucket 'agentic_memories'"):
        await mem.memories("bot", "ada")
    assert mem.bucket == MEMORIES_BUCKET
    with pytest.raises(TypeError, match="subject tokens must be str"):
        await mem.remember("bot", 42, "x")  # type: ignore[arg-type]
