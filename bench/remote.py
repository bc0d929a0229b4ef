"""Overhead of remote agents and tools over loopback, against direct local calls.

- A2A round trip (``A2AAgent`` -> ``serve_a2a`` over HTTP on 127.0.0.1) vs the same
  agent called directly;
- NATS round trip (``NatsProxyAgent`` -> ``serve_agent``) vs direct;
- MCP tool call (``MCPTools`` -> an SDK ``MCPServer`` in a subprocess over stdio
  ) vs calling the Python function;
- 100 concurrent background tasks (``run(..., background=True)``, file store) polled
  to completion.

The agent is a ``ScriptedChatClient`` test double (no model), so the figures are the
transport's own cost. Medians and spread (min-max) over ``--repeat`` rounds of
``--calls`` sequential calls each.

    .venv/bin/python bench/remote.py [--calls 50] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentic_nb.agents import ChatAgent, FileBackgroundStore, wait
from agentic_nb.llm import ScriptedChatClient
from agentic_nb.nats import LocalNatsServer, connect
from agentic_nb.remote import A2AAgent, MCPTools, NatsProxyAgent, serve_a2a, serve_agent

MCP_SERVER = """
from mcp.server import MCPServer
server = MCPServer("bench")
@server.tool()
def add(a: int, b: int) -> int:
    '''Add.'''
    return a + b
server.run("stdio")
"""


def agent(name: str, n: int) -> ChatAgent:
    return ChatAgent(ScriptedChatClient(["ok"] * (n + 10)), name=name)


async def per_call(fn: Callable[[], Awaitable[Any]], calls: int, repeat: int) -> list[float]:
    await fn()  # warm up (connections, caches)
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            await fn()
        rounds.append((time.perf_counter() - t0) / calls * 1000)
    return rounds


def fmt(rounds: list[float]) -> str:
    return f"{statistics.median(rounds):8.2f} ms  (spread {min(rounds):.2f}-{max(rounds):.2f})"


async def main(calls: int, repeat: int) -> None:
    total = calls * (repeat + 1) + 10
    rows: list[tuple[str, list[float]]] = []

    local = agent("local", total)
    rows.append(("agent, direct call", await per_call(lambda: local.run("hi"), calls, repeat)))

    async with serve_a2a(agent("a2a", total)) as server:
        remote = A2AAgent(server.url)
        rows.append(("agent over A2A", await per_call(lambda: remote.run("hi"), calls, repeat)))
        await remote.aclose()

    with LocalNatsServer() as nats:
        nc = await connect(nats.url)
        async with serve_agent(agent("nats", total), nc):
            proxy = NatsProxyAgent("nats", nc)
            rows.append(("agent over NATS", await per_call(lambda: proxy.run("hi"), calls, repeat)))
        await nc.close()

    def add(a: int, b: int) -> int:
        return a + b

    async def direct() -> int:
        return add(1, 2)

    rows.append(("tool, direct function", await per_call(direct, calls, repeat)))
    async with MCPTools.stdio(sys.executable, ["-c", MCP_SERVER]) as tools:
        tool = tools["add"]
        rows.append(
            (
                "MCP tool, stdio subprocess",
                await per_call(lambda: tool.invoke({"a": 1, "b": 2}), calls, repeat),
            )
        )

    print(f"per call, {calls} sequential calls x {repeat} rounds (loopback, scripted model)")
    for name, rounds in rows:
        print(f"  {name:28s} {fmt(rounds)}")

    bg_rounds = []
    for _ in range(repeat):
        store = FileBackgroundStore(tempfile.mkdtemp())
        agents = [agent(f"bg{i}", 2) for i in range(100)]
        t0 = time.perf_counter()
        tokens = [await a.run("q", background=True, background_store=store) for a in agents]
        results = await asyncio.gather(*(wait(t, timeout=120) for t in tokens))
        bg_rounds.append((time.perf_counter() - t0) * 1000)
        assert all(r.status == "completed" for r in results)
    print(f"  {'100 background tasks, polled':28s} {fmt(bg_rounds)}  (whole batch)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--calls", type=int, default=50)
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    asyncio.run(main(a.calls, a.repeat))
