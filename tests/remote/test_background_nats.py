"""Background tasks stored in NATS KV: started in one process, polled from another."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from typing import Any

from agentic_nb.agents import ChatAgent, poll, resume_stream, wait
from agentic_nb.llm import ScriptedChatClient
from agentic_nb.nats import LocalNatsServer, NatsBackgroundStore

HOST = textwrap.dedent(
    """
    import asyncio, sys
    from agentic_nb.agents import ChatAgent
    from agentic_nb.llm import ScriptedChatClient
    from agentic_nb.nats import NatsBackgroundStore, connect

    async def main(url):
        nc = await connect(url)
        agent = ChatAgent(ScriptedChatClient(["made elsewhere"]), name="far")
        token = await agent.run("x", background=True, background_store=NatsBackgroundStore(nc))
        print(token, flush=True)
        from agentic_nb.agents import wait
        await wait(token, store=NatsBackgroundStore(nc), timeout=30)
        await nc.drain()

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_token_from_another_process_is_polled_from_nats(
    nats_server: LocalNatsServer, nc: Any
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", HOST, nats_server.url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    token = out.stdout.strip().splitlines()[-1]
    status = await poll(token, store=NatsBackgroundStore(nc))
    assert status.status == "completed"
    assert status.response is not None and status.response.text == "made elsewhere"


async def test_chunks_resume_from_nats(nc: Any) -> None:
    store = NatsBackgroundStore(nc)
    client = ScriptedChatClient(["alpha beta gamma"])
    agent = ChatAgent(client, name="streamer")
    token = await agent.run("x", background=True, background_store=store)
    await wait(token, store=store, timeout=10)
    updates = [u async for u in resume_stream(token, store=store)]
    assert updates[-1].done and updates[-1].response is not None
    assert updates[-1].response.text == "alpha beta gamma"
    streamed = "".join(u.text for u in updates[:-1])
    assert streamed == "alpha beta gamma"
    later = [u async for u in resume_stream(token, after=len(updates) - 2, store=store)]
    assert len(later) == 2
    await asyncio.sleep(0)
