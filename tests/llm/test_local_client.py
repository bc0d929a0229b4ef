"""LocalChatClient: SmolLM2 in-process through xllamacpp (no server, no network)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from pydantic import BaseModel

from agentic_nb.llm import ChatClientError, LocalChatClient, smollm2_path

pytestmark = pytest.mark.llm


class Answer(BaseModel):
    answer: int


def test_default_is_shared_and_loads_smollm2() -> None:
    a = LocalChatClient.default()
    assert a is LocalChatClient.default()
    assert a.model_path == smollm2_path() and a.model.startswith("SmolLM2-135M")


async def test_plain_and_structured() -> None:
    client = LocalChatClient.default()
    r = await client.get_response("Say hi", max_tokens=6)
    assert r.text.strip() and 0 < r.usage.output_tokens <= 6
    s = await client.get_response("2 + 2 = ? Reply in JSON.", response_format=Answer, max_tokens=24)
    assert isinstance(s.value, Answer)


async def test_streaming_and_cancellation_stops_generation() -> None:
    client = LocalChatClient.default()
    chunks: list[str] = []
    stream = client.get_streaming_response("Count from one to fifty.", max_tokens=200)
    async with contextlib.aclosing(stream):
        async for u in stream:
            if u.text:
                chunks.append(u.text)
            if len(chunks) == 3:
                break  # closing the stream tells xllamacpp to stop generating
    assert len(chunks) == 3
    # The model is free again at once: a short request is not stuck behind 200 tokens.
    t0 = time.monotonic()
    r = await asyncio.wait_for(client.get_response("Say ok", max_tokens=3), timeout=60)
    assert r.usage.output_tokens <= 3
    assert time.monotonic() - t0 < 60


def test_missing_model_file_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ChatClientError, match="does not exist"):
        LocalChatClient(str(tmp_path / "nope.gguf"))
