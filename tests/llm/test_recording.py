"""Record and replay: fingerprints, streamed chunks, clear errors; a real SmolLM2
conversation recorded, then replayed with no model at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from agentic_nb.agents import ChatAgent, tool
from agentic_nb.llm import (
    ChatMessage,
    ChatRequest,
    LocalChatClient,
    RecordingChatClient,
    ReplayChatClient,
    ScriptedChatClient,
    UnrecordedRequestError,
    request_fingerprint,
)

calls = ScriptedChatClient.calls


class City(BaseModel):
    name: str


@tool
def weather(city: str) -> str:
    """Current weather of a city."""
    return f"sunny in {city}"


async def chunks(client, prompt: str) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return [(u.text, len(u.tool_calls)) async for u in client.get_streaming_response(prompt)]


def test_fingerprint_ignores_message_and_call_ids_but_not_content() -> None:
    def convo(call_id: str) -> ChatRequest:
        ask = ChatMessage("assistant", contents=calls(("f", {"x": 1})).contents)
        ask.contents[0].call_id = call_id  # type: ignore[union-attr]
        return ChatRequest(
            [ChatMessage.user("q"), ask, ChatMessage.tool_result(call_id, "ok")], max_tokens=5
        )

    assert request_fingerprint(convo("call_a")) == request_fingerprint(convo("call_b"))
    other = convo("call_a")
    other.max_tokens = 6
    assert request_fingerprint(other) != request_fingerprint(convo("call_a"))
    assert request_fingerprint(ChatRequest([ChatMessage.user("q")])) != request_fingerprint(
        ChatRequest([ChatMessage.user("Q")])
    )


async def test_an_agent_with_tools_is_recorded_then_replayed_identically(tmp_path: Path) -> None:
    path = tmp_path / "rec.json"
    answers = [calls(("weather", {"city": "Oslo"})), "It is sunny in Oslo."]
    live = ScriptedChatClient(answers * 2, chunk_size=4)
    recorder = RecordingChatClient(live, path, mode="record")
    agent = ChatAgent(recorder, "Use tools.", name="meteo", tools=[weather])
    first = await agent.run("Weather in Oslo?")
    streamed = [u.text async for u in agent.run_stream("Weather in Oslo?") if u.text]
    assert len(live.requests) == 4
    data = json.loads(path.read_text())
    assert data["version"] == 1 and data["provider"] == "scripted"
    assert len(data["calls"]) == 2 and len(recorder) == 4  # two requests, each asked twice

    replay = ReplayChatClient(path)
    again = ChatAgent(replay, "Use tools.", name="meteo", tools=[weather])
    second = await again.run("Weather in Oslo?")
    assert second.text == first.text == "It is sunny in Oslo."
    assert [m.role for m in second.messages] == [m.role for m in first.messages]
    assert second.messages[0].tool_calls[0].arguments == {"city": "Oslo"}
    assert second.usage == first.usage
    # Streamed chunks replay piece by piece, exactly as recorded.
    assert [u.text async for u in again.run_stream("Weather in Oslo?") if u.text] == streamed
    assert "".join(streamed) == "It is sunny in Oslo."


async def test_streams_replay_chunk_for_chunk_and_convert_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    live = ScriptedChatClient(["hello world", "plain answer"], chunk_size=3)
    rec = RecordingChatClient(live, path, mode="record")
    recorded = await chunks(rec, "stream me")
    await rec.get_response("complete me")
    replay = ReplayChatClient(path)
    assert await chunks(replay, "stream me") == recorded
    assert [t for t, _ in recorded if t] == ["hel", "lo ", "wor", "ld"]
    # A stream may be replayed as a complete answer, and the other way round.
    assert (await replay.get_response("stream me")).text == "hello world"
    assert "".join(t for t, _ in await chunks(replay, "complete me")) == "plain answer"


async def test_repeated_requests_replay_in_order_and_structured_output_is_parsed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.json"
    rec = RecordingChatClient(
        ScriptedChatClient(['{"name": "Oslo"}', '{"name": "Bergen"}']), path, mode="record"
    )
    for _ in range(2):
        await rec.get_response("a city", response_format=City)
    replay = ReplayChatClient(path)
    got = [(await replay.get_response("a city", response_format=City)).value for _ in range(3)]
    assert got == [City(name="Oslo"), City(name="Bergen"), City(name="Bergen")]


async def test_an_unrecorded_request_fails_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "u.json"
    rec = RecordingChatClient(ScriptedChatClient(["yes"]), path, mode="record")
    await rec.get_response("Is it recorded?")
    replay = ReplayChatClient(path)
    with pytest.raises(UnrecordedRequestError) as info:
        await replay.get_response("Something never asked", tools=[weather.spec])
    text = str(info.value)
    assert "'Something never asked'" in text and "tools weather" in text
    assert str(path) in text and "1 recorded answers" in text
    assert "mode='record'" in text
    with pytest.raises(UnrecordedRequestError):
        await chunks(replay, "also never asked")


async def test_auto_mode_records_only_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    first = ScriptedChatClient(["one"])
    await RecordingChatClient(first, path).get_response("q1")
    second = ScriptedChatClient(["two"])
    auto = RecordingChatClient(second, path)
    assert (await auto.get_response("q1")).text == "one"  # replayed
    assert (await auto.get_response("q2")).text == "two"  # recorded
    assert len(second.requests) == 1
    assert (await ReplayChatClient(path).get_response("q2")).text == "two"


def test_bad_files_and_settings_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="record one first"):
        ReplayChatClient(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a readable recording"):
        ReplayChatClient(bad)
    bad.write_text('{"version": 99}')
    with pytest.raises(ValueError, match="not a version-1 recording"):
        ReplayChatClient(bad)
    with pytest.raises(ValueError, match="mode must be"):
        RecordingChatClient(ScriptedChatClient([]), tmp_path / "x.json", mode="live")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a real chat client"):
        RecordingChatClient(None, tmp_path / "x.json", mode="record")


@pytest.mark.llm
async def test_a_real_smollm2_conversation_replays_without_the_model(tmp_path: Path) -> None:
    path = tmp_path / "smollm2.json"
    model = LocalChatClient.default()
    recorder = RecordingChatClient(model, path, mode="record")
    agent = ChatAgent(recorder, "You are terse.", name="bot", max_tokens=12, temperature=0.0)
    thread = agent.new_thread()
    live1 = await agent.invoke("Name a colour.", thread)
    live_chunks = [u.text async for u in agent.run_stream("Name a fruit.", thread=thread)]
    assert live1.text.strip() and "".join(live_chunks).strip()
    data = json.loads(path.read_text())
    assert data["model"] == model.model and len(data["calls"]) == 2
    streams = [e["streams"][0] for e in data["calls"].values() if "streams" in e]
    assert streams and len(streams[0]) > 1  # the model's own chunks were kept

    replay = ReplayChatClient(path)  # no model behind it
    assert replay.client is None
    again = ChatAgent(replay, "You are terse.", name="bot", max_tokens=12, temperature=0.0)
    thread2 = again.new_thread()
    replayed1 = await again.invoke("Name a colour.", thread2)
    replayed_chunks = [u.text async for u in again.run_stream("Name a fruit.", thread=thread2)]
    assert replayed1.text == live1.text
    assert replayed_chunks == live_chunks
    assert replayed1.usage == live1.usage
    with pytest.raises(UnrecordedRequestError, match="Name a car"):
        await again.invoke("Name a car.", thread2)
