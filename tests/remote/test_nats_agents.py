"""Agents hosted over a real nats-server and called through NatsProxyAgent."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentic_nb import WorkflowBuilder
from agentic_nb.agents import AgentResponse, AgentRunUpdate, AgentThread, BaseAgent, ChatAgent
from agentic_nb.llm import ChatMessage, ScriptedChatClient
from agentic_nb.nats import LocalNatsServer
from agentic_nb.remote import AgentUnavailableError, NatsProxyAgent, RemoteAgentError, serve_agent


class SlowAgent(BaseAgent):
    """Streams one chunk every `every` seconds, forever (or `n` chunks)."""

    def __init__(self, name: str, every: float = 0.05, n: int | None = None) -> None:
        super().__init__(name=name)
        self.every, self.n = every, n
        self.cancelled = asyncio.Event()

    async def _updates(
        self, messages: Any, *, thread: AgentThread | None, stream: bool, **options: Any
    ) -> AsyncIterator[AgentRunUpdate]:
        i = 0
        try:
            while self.n is None or i < self.n:
                i += 1
                yield AgentRunUpdate(agent_id=self.id, author_name=self.name, text=f"c{i} ")
                await asyncio.sleep(self.every)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        response = AgentResponse(messages=[ChatMessage("assistant", f"{i} chunks")])
        yield AgentRunUpdate(agent_id=self.id, done=True, response=response)


class Broken(BaseAgent):
    async def _updates(
        self, messages: Any, *, thread: AgentThread | None, stream: bool, **options: Any
    ) -> AsyncIterator[AgentRunUpdate]:
        raise ValueError("model exploded")
        yield  # pragma: no cover


async def test_run_and_thread_round_trip(nc: Any) -> None:
    client = ScriptedChatClient(["Hi Ada.", "Your name is Ada."])
    agent = ChatAgent(client, name="memo")
    async with serve_agent(agent, nc) as host:
        proxy = NatsProxyAgent("memo", nc)
        thread = proxy.new_thread()
        first = await proxy.run("My name is Ada.", thread=thread)
        second = await proxy.run("What is my name?", thread=thread)
        assert (first.text, second.text) == ("Hi Ada.", "Your name is Ada.")
        # The history travelled: the second model call saw the first exchange.
        seen = [m.text for m in client.requests[1].messages]
        assert "My name is Ada." in seen and "Hi Ada." in seen
        assert [m.text for m in thread.messages] == [
            "My name is Ada.",
            "Hi Ada.",
            "What is my name?",
            "Your name is Ada.",
        ]
        assert host.calls == 2


async def test_streaming_chunks_arrive_in_order(nc: Any) -> None:
    async with serve_agent(SlowAgent("counter", every=0.0, n=20), nc):
        chunks = [u async for u in NatsProxyAgent("counter", nc).run_stream("go")]
    texts = [u.text for u in chunks if not u.done]
    assert texts == [f"c{i} " for i in range(1, 21)]
    assert chunks[-1].done and chunks[-1].response is not None
    assert chunks[-1].response.text == "20 chunks"


async def test_leaving_the_stream_early_cancels_the_remote_run(nc: Any) -> None:
    agent = SlowAgent("forever", every=0.02)
    async with serve_agent(agent, nc):
        async with asyncio.timeout(20):
            stream = NatsProxyAgent("forever", nc).run_stream("go")
            async for update in stream:
                if update.text == "c3 ":
                    break
            await stream.aclose()
            await asyncio.wait_for(agent.cancelled.wait(), 10)


async def test_a_stream_that_never_ends_is_bounded_by_the_timeout(nc: Any) -> None:
    agent = SlowAgent("endless", every=0.05)
    async with serve_agent(agent, nc):
        t0 = time.monotonic()
        with pytest.raises(RemoteAgentError, match="endless"):
            await NatsProxyAgent("endless", nc, timeout=1.0).run("go")
        assert time.monotonic() - t0 < 10
        await asyncio.wait_for(agent.cancelled.wait(), 10)


async def test_no_host_is_a_clear_error_naming_the_subject(nc: Any) -> None:
    with pytest.raises(AgentUnavailableError) as info:
        await NatsProxyAgent("nobody.home", nc).run("hello?")
    text = str(info.value)
    assert "agentic.agents.nobody=2Ehome.run" in text and "serve_agent" in text


async def test_remote_failure_is_reported(nc: Any) -> None:
    async with serve_agent(Broken(name="broken"), nc):
        with pytest.raises(RemoteAgentError, match="model exploded"):
            await NatsProxyAgent("broken", nc).run("x")


async def test_proxy_agent_works_as_a_workflow_executor(nc: Any) -> None:
    agent = ChatAgent(ScriptedChatClient(["remote says hi"]), name="remote_writer")
    async with serve_agent(agent, nc):
        proxy = NatsProxyAgent("remote_writer", nc)
        wf = WorkflowBuilder(name="uses-remote", start=proxy).build()
        result = await wf.run("hello")
        assert result.status == "completed"
        assert "remote says hi" in str(result.outputs)


async def test_agent_hosted_by_another_process(nats_server: LocalNatsServer, nc: Any) -> None:
    host = Path(__file__).with_name("agent_host.py")
    proc = subprocess.Popen(
        [sys.executable, str(host), nats_server.url, "far.away"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)
        assert line.strip() == "ready"
        response = await NatsProxyAgent("far.away", nc).run("hello")
        assert response.text == "from another process"
    finally:
        proc.kill()
        proc.wait()
    # Host gone: the next call says nobody hosts it.
    with pytest.raises(AgentUnavailableError):
        await NatsProxyAgent("far.away", nc, connect_timeout=2).run("again")


async def test_serve_agent_rejects_non_agents(nc: Any) -> None:
    with pytest.raises(TypeError, match="Agent"):
        async with serve_agent(object(), nc):  # type: ignore[arg-type]
            pass


async def test_malformed_request_gets_an_error_reply(nc: Any) -> None:
    async with serve_agent(SlowAgent("strict", n=1), nc):
        reply = await nc.request("agentic.agents.strict.run", b"{not json", timeout=5)
        assert b'"ok":false' in reply.data and b"malformed call" in reply.data
