"""OpenAIChatClient and AnthropicChatClient through their official SDKs against a real
xllamacpp server running SmolLM2 on loopback (no network). Answers are kept tiny."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from agentic_nb.llm import (
    AnthropicChatClient,
    ChatMessage,
    OpenAIChatClient,
    StructuredOutputError,
)

pytestmark = pytest.mark.llm


class Sum(BaseModel):
    answer: int


async def test_openai_plain(llama_server: str) -> None:
    client = OpenAIChatClient("smollm2", base_url=f"{llama_server}/v1", max_tokens=8)
    r = await client.get_response([ChatMessage.system("Be brief."), ChatMessage.user("Say hi")])
    assert r.text.strip()
    assert r.message.role == "assistant"
    assert r.usage.input_tokens > 0 and 0 < r.usage.output_tokens <= 8
    assert r.finish_reason in ("stop", "length")


async def test_openai_streaming_assembles_chunks(llama_server: str) -> None:
    client = OpenAIChatClient("smollm2", base_url=f"{llama_server}/v1", max_tokens=8)
    updates = [u async for u in client.get_streaming_response("Say hello")]
    texts = [u.text for u in updates if u.text]
    assert len(texts) >= 2, "a streamed answer arrives in several chunks"
    assert "".join(texts).strip()
    assert any(u.finish_reason for u in updates)
    assert any(u.usage and u.usage.output_tokens > 0 for u in updates)


async def test_openai_structured_output_json_schema(llama_server: str) -> None:
    client = OpenAIChatClient("smollm2", base_url=f"{llama_server}/v1", max_tokens=24)
    r = await client.get_response("What is 2 + 2? Reply in JSON.", response_format=Sum)
    assert isinstance(r.value, Sum)
    assert isinstance(r.value.answer, int)


async def test_anthropic_plain(llama_server: str) -> None:
    client = AnthropicChatClient("smollm2", base_url=llama_server, max_tokens=8)
    r = await client.get_response([ChatMessage.system("Be brief."), ChatMessage.user("Say hi")])
    assert r.text.strip()
    assert r.usage.input_tokens > 0 and 0 < r.usage.output_tokens <= 8


async def test_anthropic_streaming(llama_server: str) -> None:
    client = AnthropicChatClient("smollm2", base_url=llama_server, max_tokens=8)
    updates = [u async for u in client.get_streaming_response("Say hello")]
    texts = [u.text for u in updates if u.text]
    assert len(texts) >= 2
    final = [u for u in updates if u.finish_reason]
    assert final and final[-1].usage is not None and final[-1].usage.output_tokens > 0


async def test_anthropic_count_tokens_is_the_servers_tokenizer(llama_server: str) -> None:
    client = AnthropicChatClient("smollm2", base_url=llama_server)
    short = await client.count_tokens([ChatMessage.user("hi")])
    longer = await client.count_tokens([ChatMessage.user("hi " * 40)])
    assert short is not None and longer is not None
    assert longer > short + 30


async def test_anthropic_structured_output_sends_native_output_config(llama_server: str) -> None:
    """The client asks for structured output the Messages-API way (output_config). The
    llama.cpp server ignores that field, so the reply is free text: the client must then
    raise a StructuredOutputError naming provider, model and the raw answer — never return
    a half-parsed value."""
    import httpx2  # the anthropic SDK's HTTP stack

    sent: list[dict] = []

    async def record(request: httpx2.Request) -> None:
        import json

        sent.append(json.loads(request.content))

    client = AnthropicChatClient("smollm2", base_url=llama_server, max_tokens=12)
    client._sdk = client._sdk.with_options(
        http_client=httpx2.AsyncClient(event_hooks={"request": [record]})
    )
    try:
        r = await client.get_response("What is 2 + 2? Reply in JSON.", response_format=Sum)
    except StructuredOutputError as exc:
        assert "anthropic model 'smollm2'" in str(exc) and "Sum" in str(exc)
    else:  # the model happened to produce valid JSON for the schema
        assert isinstance(r.value, Sum)
    fmt = sent[0]["output_config"]["format"]
    assert fmt["type"] == "json_schema"
    assert fmt["schema"]["properties"]["answer"]["type"] == "integer"
    assert fmt["schema"]["additionalProperties"] is False


async def test_chat_agent_with_tools_against_the_real_server(llama_server: str) -> None:
    """llama.cpp accepts our tool schemas (SmolLM2 itself rarely calls tools)."""
    from agentic_nb.agents import ChatAgent, tool

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    client = OpenAIChatClient("smollm2", base_url=f"{llama_server}/v1", max_tokens=8)
    agent = ChatAgent(client, "Be brief.", name="calc", tools=[add], max_tool_rounds=1)
    r = await agent.run("What is 2 + 3?")
    assert r.status in ("completed", "max_tool_rounds")
    assert r.usage.input_tokens > 0
    assert r.text or r.tool_calls
