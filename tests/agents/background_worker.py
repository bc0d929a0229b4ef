"""A separate process that starts a background agent task (kernel-restart tests)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

from agentic_nb.agents import (
    AgentResponse,
    AgentRunUpdate,
    AgentThread,
    BaseAgent,
    FileBackgroundStore,
)
from agentic_nb.llm import ChatMessage


class Counter(BaseAgent):
    def __init__(self, n: int, every: float) -> None:
        super().__init__(name="counter")
        self.n, self.every = n, every

    async def _updates(
        self, messages: Any, *, thread: AgentThread | None, stream: bool, **options: Any
    ) -> AsyncIterator[AgentRunUpdate]:
        for i in range(1, self.n + 1):
            yield AgentRunUpdate(agent_id=self.id, text=f"{i} ")
            await asyncio.sleep(self.every)
        response = AgentResponse([ChatMessage("assistant", f"counted to {self.n}")])
        yield AgentRunUpdate(agent_id=self.id, done=True, response=response)


async def main(root: str, mode: str) -> None:
    store = FileBackgroundStore(root)
    token = await Counter(5, 0.05 if mode == "finish" else 1.0).run(
        "count", background=True, background_store=store
    )
    print(token, flush=True)
    if mode == "finish":
        while True:  # let the task finish, then exit like a kernel that is shut down
            await asyncio.sleep(0.05)
            from agentic_nb.agents import poll

            if (await poll(token)).done:
                return
    await asyncio.sleep(1.5)
    os._exit(9)  # the kernel dies mid-task


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
