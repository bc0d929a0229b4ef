"""Threads (JSON round trip, stores), reducers (tool-call units kept whole), memory."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentic_nb.agents import (
    AgentThread,
    ChatAgent,
    ChatMessageStore,
    InMemoryChatMessageStore,
    MessageCountingReducer,
    NoOpMemoryProvider,
    NoOpReducer,
    SlidingWindowReducer,
    SummarizingReducer,
    TokenCountingReducer,
    group_units,
)
from agentic_nb.llm import ChatMessage, DataContent, ScriptedChatClient, ToolCallContent


def tool_exchange(i: int, n_calls: int = 2) -> list[ChatMessage]:
    call = ChatMessage(
        "assistant",
        contents=[ToolCallContent(f"c{i}_{k}", "f", {"k": k}) for k in range(n_calls)],
    )
    results = ChatMessage("tool", contents=[])
    for k in range(n_calls):
        results.contents.extend(ChatMessage.tool_result(f"c{i}_{k}", "r" * 40).contents)
    return [call, results]


def conversation(turns: int) -> list[ChatMessage]:
    msgs = [ChatMessage.system("You are terse.")]
    for i in range(turns):
        msgs.append(ChatMessage.user(f"question {i} " + "x" * 30))
        msgs.extend(tool_exchange(i))
        msgs.append(ChatMessage.assistant(f"answer {i}"))
    return msgs


def assert_well_formed(msgs: list[ChatMessage]) -> None:
    calls = {c.call_id for m in msgs for c in m.tool_calls}
    results = {r.call_id for m in msgs for r in m.tool_results}
    assert calls == results, "a tool call was separated from its result"


# ----------------------------------------------------------------- threads


async def test_thread_json_round_trip_keeps_every_content_kind() -> None:
    t = AgentThread(agent_id="bot", metadata={"user_id": "u", "n": (1, 2)})
    await t.add_messages(
        [
            ChatMessage.user("hi", author_name="ana"),
            ChatMessage("assistant", contents=[ToolCallContent("c1", "f", {"x": [1]})]),
            ChatMessage.tool_result("c1", "ok", name="f", is_error=True),
            ChatMessage("user", contents=[DataContent({"a": 1})]),
        ]
    )
    text = t.to_json()
    assert "pickle" not in text and json.loads(text)["format"] == 1
    back = AgentThread.from_json(text)
    assert back.id == t.id and back.metadata == {"user_id": "u", "n": (1, 2)}
    assert [(m.role, m.author_name, m.message_id) for m in back.messages] == [
        (m.role, m.author_name, m.message_id) for m in t.messages
    ]
    assert back.messages[1].tool_calls[0].arguments == {"x": [1]}
    assert back.messages[2].tool_results[0].is_error
    assert back.messages[3].contents[0] == DataContent({"a": 1})


async def test_thread_with_a_store_serializes_only_its_identity() -> None:
    store = InMemoryChatMessageStore()
    assert isinstance(store, ChatMessageStore)
    agent = ChatAgent(ScriptedChatClient(["one", "two"]), name="s", message_store=store)
    thread = agent.new_thread()
    await agent.run("a", thread=thread)
    data = json.loads(thread.to_json())
    assert data["in_store"] and "messages" not in data
    with pytest.raises(ValueError, match="pass the same store"):
        AgentThread.from_json(thread.to_json())
    resumed = AgentThread.from_json(thread.to_json(), store=store)
    await agent.run("b", thread=resumed)
    assert [m.text for m in await store.list_messages(thread.id)] == ["a", "one", "b", "two"]


def test_thread_rejects_foreign_data() -> None:
    with pytest.raises(ValueError, match="not a serialized AgentThread"):
        AgentThread.from_json('{"hello": 1}')


# ---------------------------------------------------------------- reducers


def test_group_units_drops_orphan_results() -> None:
    orphan = ChatMessage.tool_result("gone", "x")
    units = group_units([orphan, ChatMessage.user("q"), *tool_exchange(0)])
    assert [[m.role for m in u] for u in units] == [["user"], ["assistant", "tool"]]


async def test_message_counting_keeps_system_and_whole_units() -> None:
    msgs = conversation(5)
    out = await MessageCountingReducer(6).reduce(msgs)
    assert out[0].role == "system" and len(out) <= 6
    assert out[-1].text == "answer 4"
    assert_well_formed(out)
    assert out[1].role != "tool"


async def test_sliding_window_keeps_last_turns() -> None:
    out = await SlidingWindowReducer(2).reduce(conversation(5))
    assert [m.text for m in out if m.role == "user"] == [
        "question 3 " + "x" * 30,
        "question 4 " + "x" * 30,
    ]
    assert out[0].role == "system"
    assert_well_formed(out)


async def test_token_counting_with_an_exact_tokenizer() -> None:
    words = lambda s: len(s.split())  # noqa: E731 - an exact "tokenizer" for this test
    msgs = conversation(6)
    r = TokenCountingReducer(60, counter=words)
    out = await r.reduce(msgs)
    assert out[0].role == "system" and out[-1].text == "answer 5"
    assert_well_formed(out)
    assert r.last_count is not None and r.last_count <= 60
    assert len(out) < len(msgs)


async def test_token_counting_asks_the_client_when_it_can_count() -> None:
    class Counting(ScriptedChatClient):
        calls: list[int] = []

        async def count_tokens(self, messages):  # type: ignore[no-untyped-def]
            n = sum(3 * len(m.text) for m in messages) + 10 * len(messages)
            self.calls.append(n)
            return n

    client = Counting()
    r = TokenCountingReducer(400, counter=client)
    out = await r.reduce(conversation(6))
    assert client.calls, "the provider's tokenizer was asked"
    assert r.last_count is not None and r.last_count <= 400
    assert_well_formed(out)


@settings(max_examples=60, deadline=None)
@given(
    turns=st.integers(0, 8),
    budget=st.integers(1, 400),
    count=st.integers(1, 30),
)
async def test_reducers_never_split_tool_calls(turns: int, budget: int, count: int) -> None:
    msgs = conversation(turns)
    for reducer in (
        TokenCountingReducer(budget),
        MessageCountingReducer(count),
        SlidingWindowReducer(max(1, count // 4)),
    ):
        out = await reducer.reduce(msgs)
        assert_well_formed(out)
        assert [m for m in out if m.role == "system"] == msgs[:1]
        ids = [m.message_id for m in msgs]
        assert [ids.index(m.message_id) for m in out] == sorted(
            ids.index(m.message_id) for m in out
        )
        if turns:
            assert out[-1] is msgs[-1]  # the newest message always survives


async def test_summarizing_reducer_uses_an_agent_and_caches() -> None:
    summarizer = ChatAgent(ScriptedChatClient(["Ada asked about tea and got answers."]))
    r = SummarizingReducer(summarizer, threshold=8, keep_last=4)
    msgs = conversation(4)
    out = await r.reduce(msgs)
    assert out[0].text == "You are terse."
    assert out[1].role == "system" and "Ada asked about tea" in out[1].text
    assert out[-1] is msgs[-1] and len(out) < len(msgs)
    assert_well_formed(out)
    prompt = summarizer.client.requests[0].messages[-1].text  # type: ignore[attr-defined]
    assert "question 0" in prompt
    again = await r.reduce(msgs)  # cached: the scripted client has no answer left
    assert again[1].text == out[1].text


async def test_reducer_in_an_agent_shrinks_the_request_not_the_thread() -> None:
    client = ScriptedChatClient([f"a{i}" for i in range(6)])
    agent = ChatAgent(client, "sys", reducer=MessageCountingReducer(3), memory=NoOpMemoryProvider())
    thread = agent.new_thread()
    for i in range(6):
        await agent.run(f"q{i}", thread=thread)
    assert len(thread.messages) == 12
    last = client.requests[-1].messages
    assert [m.text for m in last] == ["sys", "q4", "a4", "q5"]
    assert await NoOpReducer().reduce(thread.messages) == thread.messages
