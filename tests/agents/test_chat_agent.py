"""ChatAgent's tool loop, streaming, structured output, threads and memory, driven by
ScriptedChatClient (a test double that replays answers and records requests)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from agentic_nb.agents import (
    MAX_TOOL_ROUNDS,
    Agent,
    AgentThread,
    ChatAgent,
    InMemoryMemoryProvider,
    tool,
)
from agentic_nb.llm import ChatMessage, ChatRequest, ScriptedChatClient, StructuredOutputError

calls = ScriptedChatClient.calls


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"kaboom: {reason}")


def test_chat_agent_satisfies_the_agent_protocol() -> None:
    agent = ChatAgent(ScriptedChatClient(), name="a", tools=[add])
    assert isinstance(agent, Agent)
    assert [t.name for t in agent.tools] == ["add"]


async def test_tool_loop_sends_results_back_and_returns_final_text() -> None:
    client = ScriptedChatClient([calls(("add", {"a": 2, "b": 3})), "2 + 3 = 5"])
    agent = ChatAgent(client, "You are a calculator.", name="calc", tools=[add])
    r = await agent.run("2+3?")
    assert r.text == "2 + 3 = 5" and r.status == "completed"
    assert [m.role for m in r.messages] == ["assistant", "tool", "assistant"]
    assert all(m.author_name == "calc" for m in r.messages if m.role == "assistant")
    first, second = client.requests
    assert first.messages[0].role == "system" and first.messages[0].text == "You are a calculator."
    assert [t.name for t in first.tools] == ["add"]
    result = second.messages[-1].tool_results[0]
    assert result.result == "5" and not result.is_error
    assert result.call_id == r.tool_calls[0].call_id
    assert r.usage.total_tokens > 0 and r.usage == r.usage  # summed over both calls
    assert r.metadata["tool_rounds"] == 1


async def test_parallel_tool_calls_run_concurrently() -> None:
    started: list[str] = []
    both = asyncio.Event()

    @tool
    async def slow(name: str) -> str:
        """Waits until both calls have started (deadlocks if run one after the other)."""
        started.append(name)
        if len(started) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), timeout=5)
        return f"done {name}"

    client = ScriptedChatClient([calls(("slow", {"name": "x"}), ("slow", {"name": "y"})), "ok"])
    r = await ChatAgent(client, tools=[slow]).run("go")
    assert sorted(started) == ["x", "y"]
    assert [t.result for t in r.tool_results] == ["done x", "done y"]  # in call order


async def test_a_raising_tool_reports_the_error_to_the_model() -> None:
    client = ScriptedChatClient([calls(("explode", {"reason": "test"})), "Sorry, the tool failed."])
    r = await ChatAgent(client, tools=[explode]).run("try it")
    res = r.tool_results[0]
    assert res.is_error and "RuntimeError: kaboom: test" in res.result
    assert client.requests[1].messages[-1].tool_results[0].is_error
    assert r.text == "Sorry, the tool failed."


async def test_malformed_and_invalid_arguments_and_unknown_tools_go_back_to_the_model() -> None:
    client = ScriptedChatClient(
        [
            calls(
                ("add", '{"a": 1, "b": '),  # not JSON
                ("add", {"a": "one", "b": 2}),  # fails validation
                ("multiply", {"a": 1}),  # no such tool
                ("add", {"a": 1, "b": 2}),  # fine
            ),
            "done",
        ]
    )
    r = await ChatAgent(client, tools=[add]).run("compute")
    results = r.tool_results
    assert [x.is_error for x in results] == [True, True, True, False]
    assert "not a JSON object" in results[0].result and '{"a": 1, "b": ' in results[0].result
    assert "invalid arguments for tool 'add'" in results[1].result and "a:" in results[1].result
    assert "no tool named 'multiply'" in results[2].result and "add" in results[2].result
    assert results[3].result == "3"
    assert r.status == "completed" and r.text == "done"


async def test_max_tool_rounds_stops_with_a_clear_status_and_a_valid_history() -> None:
    client = ScriptedChatClient([calls(("add", {"a": i, "b": 1})) for i in range(10)])
    agent = ChatAgent(client, tools=[add], max_tool_rounds=2, name="looper")
    thread = agent.new_thread()
    r = await agent.run("loop forever", thread=thread)
    assert r.status == MAX_TOOL_ROUNDS
    assert "looper" in r.status_detail and "max_tool_rounds=2" in r.status_detail
    assert len(client.requests) == 3  # two rounds executed, the third request's calls are not
    executed = [x for x in r.tool_results if not x.is_error]
    skipped = [x for x in r.tool_results if x.is_error]
    assert len(executed) == 2 and len(skipped) == 1 and "not executed" in skipped[0].result
    # Every tool call in the thread has its result, so the thread can be continued.
    call_ids = {c.call_id for m in thread.messages for c in m.tool_calls}
    result_ids = {x.call_id for m in thread.messages for x in m.tool_results}
    assert call_ids == result_ids


async def test_streaming_yields_text_tool_deltas_results_and_a_final_update() -> None:
    client = ScriptedChatClient(
        [calls(("add", {"a": 20, "b": 22}), text="Let me add."), "The answer is 42."], chunk_size=3
    )
    agent = ChatAgent(client, tools=[add], name="calc")
    updates = [u async for u in agent.run_stream("20+22?")]
    assert updates[-1].done and all(not u.done for u in updates[:-1])
    text = "".join(u.text for u in updates if u.role == "assistant")
    assert text == "Let me add.The answer is 42."
    assert len([u for u in updates if u.text]) > 4  # several chunks
    deltas = [u.tool_call for u in updates if u.tool_call is not None]
    assert len(deltas) >= 3 and deltas[0].name == "add"
    results = [u.tool_result for u in updates if u.tool_result is not None]
    assert [x.result for x in results] == ["42"]
    final = updates[-1].response
    assert final is not None and final.text == "The answer is 42."
    assert final.tool_calls[0].arguments == {"a": 20, "b": 22}
    assert all(u.author_name == "calc" and u.agent_id == "calc" for u in updates)


class Verdict(BaseModel):
    approved: bool
    score: int


async def test_structured_output_is_parsed_into_the_model_type() -> None:
    client = ScriptedChatClient(
        ['{"approved": true, "score": 8}', '```json\n{"approved": false, "score": 2}\n```']
    )
    agent = ChatAgent(client, response_format=Verdict)
    r = await agent.run("review")
    assert r.value == Verdict(approved=True, score=8)
    assert client.requests[0].response_format is not None
    assert client.requests[0].response_format.schema["required"] == ["approved", "score"]
    updates = [u async for u in agent.run_stream("again")]
    assert updates[-1].response is not None
    assert updates[-1].response.value == Verdict(approved=False, score=2)


async def test_unparseable_structured_output_raises_naming_agent_model() -> None:
    agent = ChatAgent(ScriptedChatClient(["not json at all"]), response_format=Verdict)
    with pytest.raises(StructuredOutputError) as info:
        await agent.run("review")
    assert "scripted model 'scripted'" in str(info.value) and "Verdict" in str(info.value)


async def test_threads_carry_the_conversation_between_runs() -> None:
    client = ScriptedChatClient(["Nice to meet you, Ada.", "Your name is Ada."])
    agent = ChatAgent(client, "Be kind.", name="pal")
    thread = agent.new_thread(user_id="u1")
    await agent.invoke("I am Ada.", thread)
    r = await agent.invoke("What is my name?", thread)
    assert r.thread_id == thread.id and r.text == "Your name is Ada."
    second = client.requests[1].messages
    assert [m.text for m in second] == [
        "Be kind.",
        "I am Ada.",
        "Nice to meet you, Ada.",
        "What is my name?",
    ]
    restored = AgentThread.from_json(thread.to_json())
    assert [m.text for m in restored.messages] == [m.text for m in thread.messages]
    assert restored.metadata == {"user_id": "u1"} and restored.agent_id == "pal"


async def test_memory_provider_injects_and_extracts() -> None:
    def facts(messages: list[ChatMessage], response: object) -> list[str]:
        return [
            m.text.removeprefix("Remember: ") for m in messages if m.text.startswith("Remember: ")
        ]

    memory = InMemoryMemoryProvider(extractor=facts)
    client = ScriptedChatClient(["Noted.", "You like green tea."])
    agent = ChatAgent(client, "Be helpful.", name="butler", memory=memory)
    await agent.run("Remember: likes green tea", thread=agent.new_thread(user_id="ada"))
    assert [m.text for m in memory.memories("butler", "ada")] == ["likes green tea"]
    # A new conversation with the same user sees the memory in its instructions.
    await agent.run("What do I like?", thread=agent.new_thread(user_id="ada"))
    system = client.requests[1].messages[0]
    assert system.role == "system" and "likes green tea" in system.text
    assert system.text.startswith("Be helpful.")
    # Another user does not.
    client.add("?")
    await agent.run("What do I like?", thread=agent.new_thread(user_id="bob"))
    assert "green tea" not in client.requests[2].messages[0].text


async def test_cancelling_a_run_cancels_running_tools() -> None:
    cancelled = asyncio.Event()
    started = asyncio.Event()

    @tool
    async def wait_forever() -> str:
        """Never returns."""
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    agent = ChatAgent(ScriptedChatClient([calls(("wait_forever", {}))]), tools=[wait_forever])
    task = asyncio.create_task(agent.run("go"))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()


async def test_options_reach_the_client_and_per_run_response_format() -> None:
    seen: list[ChatRequest] = []

    def answer(req: ChatRequest) -> str:
        seen.append(req)
        return '{"approved": true, "score": 1}'

    agent = ChatAgent(ScriptedChatClient([answer]), max_tokens=33, temperature=0.1)
    r = await agent.run("x", response_format=Verdict)
    assert r.value == Verdict(approved=True, score=1)
    assert seen[0].max_tokens == 33 and seen[0].temperature == 0.1


def test_bad_construction_is_reported() -> None:
    with pytest.raises(TypeError, match="must be a ChatClient"):
        ChatAgent("gpt-4o")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="two tools are named"):
        ChatAgent(ScriptedChatClient(), tools=[add, add])
