"""GeminiChatClient through the real google-genai SDK against a local HTTP server that
speaks Gemini's REST format (generateContent and streamGenerateContent SSE)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from agentic_nb.agents import ChatAgent, tool
from agentic_nb.llm import (
    AuthenticationError,
    ChatMessage,
    ChatRetryPolicy,
    GeminiChatClient,
    RateLimitError,
)
from tests.llm.conftest import Reply, StubServer


def gemini_reply(*parts: dict[str, Any], finish: str = "STOP", usage: tuple = (5, 3)) -> dict:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": list(parts)}, "finishReason": finish, "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": usage[0],
            "candidatesTokenCount": usage[1],
            "totalTokenCount": usage[0] + usage[1],
        },
        "modelVersion": "gemini-stub-001",
    }


def client_for(stub: StubServer, **kw: Any) -> GeminiChatClient:
    return GeminiChatClient("gemini-stub", api_key="test-key", base_url=stub.url, **kw)


async def test_generate_content_plain(stub: StubServer) -> None:
    stub.add(Reply(body=gemini_reply({"text": "Bonjour"})))
    client = client_for(stub)
    r = await client.get_response(
        [ChatMessage.system("Answer in French."), ChatMessage.user("Hello")], max_tokens=20
    )
    assert r.text == "Bonjour"
    assert (r.usage.input_tokens, r.usage.output_tokens, r.usage.total_tokens) == (5, 3, 8)
    assert r.model == "gemini-stub-001"
    seen = stub.seen[0]
    assert seen.path.endswith("/models/gemini-stub:generateContent")
    assert seen.headers.get("x-goog-api-key") == "test-key"
    body = seen.body
    assert body["systemInstruction"]["parts"][0]["text"] == "Answer in French."
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hello"}]}]
    assert body["generationConfig"]["maxOutputTokens"] == 20


async def test_stream_generate_content_sse(stub: StubServer) -> None:
    stub.add(
        Reply(
            events=[
                gemini_reply({"text": "Hel"}, finish=None),  # type: ignore[arg-type]
                gemini_reply({"text": "lo"}, finish=None),  # type: ignore[arg-type]
                gemini_reply({"text": "!"}, usage=(4, 3)),
            ]
        )
    )
    client = client_for(stub)
    updates = [u async for u in client.get_streaming_response("hi")]
    assert [u.text for u in updates] == ["Hel", "lo", "!"]
    assert updates[-1].finish_reason == "STOP"
    assert updates[-1].usage is not None and updates[-1].usage.total_tokens == 7
    assert ":streamGenerateContent" in stub.seen[0].path and "alt=sse" in stub.seen[0].path


class City(BaseModel):
    name: str
    population: int


async def test_structured_output_uses_response_json_schema(stub: StubServer) -> None:
    stub.add(Reply(body=gemini_reply({"text": '{"name": "Oslo", "population": 700000}'})))
    r = await client_for(stub).get_response("Largest city of Norway?", response_format=City)
    assert r.value == City(name="Oslo", population=700000)
    cfg = stub.seen[0].body["generationConfig"]
    assert cfg["responseMimeType"] == "application/json"
    assert cfg["responseJsonSchema"]["properties"]["population"]["type"] == "integer"


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: first number
        b: second number
    """
    return a + b


async def test_chat_agent_tool_loop_over_gemini_wire_format(stub: StubServer) -> None:
    stub.add(
        Reply(
            body=gemini_reply(
                {"functionCall": {"id": "fc1", "name": "add", "args": {"a": 2, "b": 40}}}
            )
        ),
        Reply(body=gemini_reply({"text": "The sum is 42."})),
    )
    agent = ChatAgent(client_for(stub), "Use tools for arithmetic.", name="calc", tools=[add])
    r = await agent.run("What is 2 + 40?")
    assert r.text == "The sum is 42."
    assert [c.name for c in r.tool_calls] == ["add"]
    assert r.tool_results[0].result == "42"
    first, second = stub.seen[0].body, stub.seen[1].body
    decl = first["tools"][0]["functionDeclarations"][0]
    # google-genai sends this field in snake_case (protobuf JSON accepts both spellings).
    schema = decl.get("parametersJsonSchema") or decl["parameters_json_schema"]
    assert decl["name"] == "add" and schema["required"] == ["a", "b"]
    assert schema["properties"]["a"]["description"] == "first number"
    # The second request carries the model's call and our function response back.
    parts = [p for c in second["contents"] for p in c["parts"]]
    assert any(p.get("functionCall", {}).get("name") == "add" for p in parts)
    responses = [p["functionResponse"] for p in parts if "functionResponse" in p]
    assert responses == [{"id": "fc1", "name": "add", "response": {"result": "42"}}]


async def test_streamed_function_calls_are_assembled(stub: StubServer) -> None:
    stub.add(
        Reply(
            events=[
                gemini_reply(
                    {"functionCall": {"id": "a", "name": "add", "args": {"a": 1, "b": 2}}},
                    finish=None,
                ),  # type: ignore[arg-type]
                gemini_reply(
                    {"functionCall": {"id": "b", "name": "add", "args": {"a": 3, "b": 4}}}
                ),
            ]
        ),
        Reply(events=[gemini_reply({"text": "3 and 7"})]),
    )
    agent = ChatAgent(client_for(stub), name="calc", tools=[add])
    updates = [u async for u in agent.run_stream("1+2 and 3+4")]
    final = updates[-1].response
    assert final is not None and final.text == "3 and 7"
    assert sorted(r.result for r in final.tool_results) == ["3", "7"]


async def test_gemini_errors_name_provider_model_and_remedy(stub: StubServer) -> None:
    stub.add(
        Reply(
            status=403,
            body={
                "error": {
                    "code": 403,
                    "message": "API key not valid",
                    "status": "PERMISSION_DENIED",
                }
            },
        )
    )
    with pytest.raises(AuthenticationError) as info:
        await client_for(stub).get_response("hi")
    msg = str(info.value)
    assert "gemini model 'gemini-stub'" in msg and "API key" in msg and "GEMINI_API_KEY" in msg


async def test_gemini_429_then_200_honours_retry_after(stub: StubServer) -> None:
    stub.add(
        Reply(
            status=429,
            body={"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}},
            headers={"Retry-After": "1"},
        ),
        Reply(body=gemini_reply({"text": "ok"})),
    )
    client = client_for(stub, retry=ChatRetryPolicy(max_attempts=2, backoff=0.01))
    r = await client.get_response("hi")
    assert r.text == "ok"
    gap = stub.seen[1].at - stub.seen[0].at
    assert gap >= 0.95, f"the retry came after {gap:.2f}s, before the server's Retry-After: 1"


async def test_gemini_429_exhausted_raises_rate_limit(stub: StubServer) -> None:
    stub.add(
        Reply(
            status=429,
            body={"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}},
        ),
    )
    client = client_for(stub, retry=ChatRetryPolicy(max_attempts=1))
    with pytest.raises(RateLimitError):
        await client.get_response("hi")


async def test_count_tokens_feeds_the_token_counting_reducer(stub: StubServer) -> None:
    from agentic_nb.agents import TokenCountingReducer

    stub.add(Reply(body={"totalTokens": 5000}), Reply(body={"totalTokens": 90}))
    client = client_for(stub)
    history = [ChatMessage.user(f"message {i} " + "x" * 200) for i in range(10)]
    reducer = TokenCountingReducer(100, counter=client)
    out = await reducer.reduce(history)
    assert [s.path.rsplit(":", 1)[-1] for s in stub.seen] == ["countTokens", "countTokens"]
    assert reducer.last_count == 90  # the provider's count of what was kept
    assert 0 < len(out) < len(history) and out[-1] is history[-1]
