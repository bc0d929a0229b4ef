"""OpenAI and Anthropic SDK clients against a scripted loopback HTTP server: retries on
429 / 5xx honouring Retry-After, connection errors, timeouts, cancellation, and
streamed tool-call deltas in each provider's real wire format."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from agentic_nb.agents import ChatAgent, tool
from agentic_nb.llm import (
    AnthropicChatClient,
    AuthenticationError,
    BadRequestError,
    ChatConnectionError,
    ChatRetryPolicy,
    ChatTimeoutError,
    OpenAIChatClient,
    RateLimitError,
    ServerError,
)
from tests.llm.conftest import Reply, StubServer, free_port, openai_completion

FAST = ChatRetryPolicy(max_attempts=3, backoff=0.05)


def openai_for(stub: StubServer, **kw: Any) -> OpenAIChatClient:
    kw.setdefault("retry", FAST)
    return OpenAIChatClient("gpt-stub", base_url=f"{stub.url}/v1", api_key="k", **kw)


def anthropic_for(stub: StubServer, **kw: Any) -> AnthropicChatClient:
    kw.setdefault("retry", FAST)
    return AnthropicChatClient("claude-stub", base_url=stub.url, api_key="k", **kw)


def anthropic_message(text: str) -> dict:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-stub",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 6, "output_tokens": 2},
    }


# ------------------------------------------------------------------ retries


async def test_openai_429_then_200_waits_retry_after(stub: StubServer) -> None:
    stub.add(
        Reply(status=429, body={"error": {"message": "slow down"}}, headers={"Retry-After": "1"}),
        Reply(body=openai_completion("fine")),
    )
    r = await openai_for(stub).get_response("hi")
    assert r.text == "fine" and r.usage.total_tokens == 7
    assert len(stub.seen) == 2
    gap = stub.seen[1].at - stub.seen[0].at
    assert gap >= 0.95, f"retried after {gap:.2f}s although the server said Retry-After: 1"


async def test_openai_retry_after_ms_header_is_preferred(stub: StubServer) -> None:
    stub.add(
        Reply(status=429, body={}, headers={"retry-after-ms": "300", "Retry-After": "30"}),
        Reply(body=openai_completion("ok")),
    )
    t0 = time.monotonic()
    assert (await openai_for(stub).get_response("hi")).text == "ok"
    assert 0.25 <= time.monotonic() - t0 < 5


async def test_anthropic_5xx_then_200(stub: StubServer) -> None:
    stub.add(
        Reply(
            status=529,
            body={"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
        ),
        Reply(
            status=503, body={"type": "error", "error": {"type": "api_error", "message": "down"}}
        ),
        Reply(body=anthropic_message("hello")),
    )
    r = await anthropic_for(stub).get_response("hi")
    assert r.text == "hello" and len(stub.seen) == 3


async def test_retries_exhausted_raise_the_last_error_with_provider_and_model(
    stub: StubServer,
) -> None:
    for _ in range(3):
        stub.add(Reply(status=500, body={"error": {"message": "boom"}}))
    with pytest.raises(ServerError) as info:
        await openai_for(stub).get_response("hi")
    assert len(stub.seen) == 3
    assert "openai model 'gpt-stub': HTTP 500" in str(info.value)
    assert info.value.status_code == 500


async def test_client_errors_are_not_retried(stub: StubServer) -> None:
    stub.add(Reply(status=401, body={"error": {"message": "bad key"}}))
    with pytest.raises(AuthenticationError) as info:
        await openai_for(stub).get_response("hi")
    assert len(stub.seen) == 1 and "OPENAI_API_KEY" in str(info.value)
    stub.add(
        Reply(
            status=400,
            body={
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "max_tokens: too big"},
            },
        )
    )
    with pytest.raises(BadRequestError) as info2:
        await anthropic_for(stub).get_response("hi")
    assert "max_tokens: too big" in str(info2.value) and len(stub.seen) == 2


async def test_rate_limit_error_carries_retry_after(stub: StubServer) -> None:
    stub.add(Reply(status=429, body={}, headers={"Retry-After": "7"}))
    client = openai_for(stub, retry=ChatRetryPolicy(max_attempts=1))
    with pytest.raises(RateLimitError) as info:
        await client.get_response("hi")
    assert info.value.retry_after == 7.0 and info.value.retryable


async def test_connection_refused_is_retried_then_reported() -> None:
    port = free_port()  # nothing listens here
    client = OpenAIChatClient("m", base_url=f"http://127.0.0.1:{port}/v1", api_key="k", retry=FAST)
    t0 = time.monotonic()
    with pytest.raises(ChatConnectionError) as info:
        await client.get_response("hi")
    assert time.monotonic() - t0 >= 0.05 + 0.1  # two backoff sleeps happened
    assert f"127.0.0.1:{port}" in str(info.value) and "server is running" in str(info.value)


async def test_timeout_is_reported_as_chat_timeout(stub: StubServer) -> None:
    stub.add(Reply(body=openai_completion("late"), delay=2.0))
    client = openai_for(stub, timeout=0.3, retry=ChatRetryPolicy(max_attempts=1))
    t0 = time.monotonic()
    with pytest.raises(ChatTimeoutError) as info:
        await client.get_response("hi")
    assert time.monotonic() - t0 < 1.5
    assert "timeout=" in str(info.value)


# -------------------------------------------------------------- streaming


def oa_chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> dict:
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-stub",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
        if delta is not None
        else [],
        **({"usage": usage} if usage else {}),
    }


@tool
def lookup(city: str, unit: str = "C") -> str:
    """Temperature of a city."""
    return f"{city}: 21{unit}"


async def test_openai_streamed_tool_call_deltas_are_assembled(stub: StubServer) -> None:
    events = [
        oa_chunk({"role": "assistant", "content": None}),
        oa_chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": ""},
                    }
                ]
            }
        ),
        oa_chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"ci'},
                    }
                ]
            }
        ),
        oa_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Os'}}]}),
        oa_chunk(
            {"tool_calls": [{"index": 1, "function": {"arguments": 'ty": "Rome", "unit": "F"}'}}]}
        ),
        oa_chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'lo"}'}}]}),
        oa_chunk({}, finish="tool_calls"),
        oa_chunk(None, usage={"prompt_tokens": 9, "completion_tokens": 20, "total_tokens": 29}),  # type: ignore[arg-type]
        "[DONE]",
    ]
    final = [
        oa_chunk({"content": "Oslo 21C, "}),
        oa_chunk({"content": "Rome 21F"}, finish="stop"),
        "[DONE]",
    ]
    stub.add(Reply(events=events), Reply(events=final))
    agent = ChatAgent(openai_for(stub), name="meteo", tools=[lookup])
    updates = [u async for u in agent.run_stream("Oslo and Rome?")]
    deltas = [u.tool_call for u in updates if u.tool_call is not None]
    assert len(deltas) == 5
    response = updates[-1].response
    assert response is not None and response.text == "Oslo 21C, Rome 21F"
    calls = response.tool_calls
    assert [(c.call_id, c.arguments) for c in calls] == [
        ("call_a", {"city": "Oslo"}),
        ("call_b", {"city": "Rome", "unit": "F"}),
    ]
    assert sorted(r.result for r in response.tool_results) == ["Oslo: 21C", "Rome: 21F"]
    # The follow-up request sent both calls and both results in OpenAI's format.
    msgs = stub.seen[1].body["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool", "tool"]
    assert {m["tool_call_id"] for m in msgs[2:]} == {"call_a", "call_b"}
    assert response.usage.input_tokens >= 9


async def test_anthropic_streamed_tool_use_deltas_are_assembled(stub: StubServer) -> None:
    events = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "m1",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-stub",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 11, "output_tokens": 1},
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Checking."},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "lookup",
                    "input": {},
                },
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"city":'},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": ' "Lima"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 15},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    stub.add(Reply(events=events), Reply(body=anthropic_message("Lima is 21C.")))
    client = anthropic_for(stub)
    updates = [u async for u in client.get_streaming_response("Lima?", tools=[lookup.spec])]
    from agentic_nb.llm import assemble_response

    r = assemble_response(updates)
    assert r.text == "Checking."
    assert [(c.call_id, c.name, c.arguments) for c in r.tool_calls] == [
        ("toolu_1", "lookup", {"city": "Lima"})
    ]
    assert r.usage.input_tokens == 11 and r.usage.output_tokens == 15
    assert r.finish_reason == "tool_use"
    sent = stub.seen[0].body
    assert sent["tools"][0]["input_schema"]["required"] == ["city"] and sent["stream"] is True


async def test_cancelling_a_stream_stops_it_promptly(stub: StubServer) -> None:
    events = [oa_chunk({"content": f"w{i} "}) for i in range(200)] + ["[DONE]"]
    stub.add(Reply(events=events, event_delay=0.05))
    client = openai_for(stub)
    got: list[str] = []

    async def consume() -> None:
        async for u in client.get_streaming_response("long story"):
            got.append(u.text)

    task = asyncio.create_task(consume())
    while len(got) < 3:
        await asyncio.sleep(0.02)
    t0 = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - t0 < 1.0
    n = len(got)
    await asyncio.sleep(0.3)
    assert len(got) == n, "no chunk arrives after cancellation"
    # The server notices the closed connection (the SDK stream was closed).
    assert await asyncio.to_thread(stub.closed_early.wait, 5.0)


async def test_error_mid_stream_is_not_retried(stub: StubServer) -> None:
    """A failure after chunks were delivered must not silently restart the answer."""
    stub.add(Reply(events=[oa_chunk({"content": "partial"}), "{not json"]))
    client = openai_for(stub)
    got: list[str] = []
    with pytest.raises(Exception):  # noqa: B017 - the SDK's own decode error, wrapped
        async for u in client.get_streaming_response("hi"):
            got.append(u.text)
    assert got == ["partial"] and len(stub.seen) == 1
