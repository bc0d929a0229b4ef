"""A separate process hosting a scripted agent over NATS (for the cross-process test)."""

from __future__ import annotations

import asyncio
import sys

from agentic_nb.agents import ChatAgent
from agentic_nb.llm import ScriptedChatClient
from agentic_nb.nats import connect
from agentic_nb.remote import serve_agent


async def main(url: str, name: str) -> None:
    nc = await connect(url)
    agent = ChatAgent(ScriptedChatClient(["from another process"] * 10), name=name)
    async with serve_agent(agent, nc):
        print("ready", flush=True)
        await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
