"""MCP through the official SDK: our MCPTools against real SDK server processes, and our
serve_mcp against the SDK's own client. Never our code on both ends."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.agents import ChatAgent
from agentic_nb.llm import ScriptedChatClient
from agentic_nb.remote import MCPServerError, MCPToolError, MCPTools, serve_mcp

SERVER = str(Path(__file__).with_name("mcp_server.py"))


def stdio_tools(**kw: object):  # type: ignore[no-untyped-def]
    return MCPTools.stdio(sys.executable, [SERVER, "stdio"], **kw)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, SERVER, "http", str(port)])
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"MCP HTTP test server did not start on port {port}") from None
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_stdio_tools_are_listed_with_their_schemas_and_called() -> None:
    async with stdio_tools() as tools:
        assert {"add", "norm1", "fail", "slow", "die", "pid"} <= set(tools.names)
        norm1 = tools["norm1"]
        # The server's JSON schema reaches the model unchanged (nested model, default).
        assert norm1.parameters["required"] == ["p"]
        assert "x" in str(norm1.parameters)
        assert await tools["add"].invoke({"a": 2, "b": 3}) == 5
        assert await norm1.invoke({"p": {"x": -2, "y": 3}, "scale": 2}) == 10


async def test_chat_agent_uses_mcp_tools_as_is() -> None:
    async with stdio_tools(include=["add"]) as tools:
        client = ScriptedChatClient(
            [ScriptedChatClient.calls(("add", {"a": 20, "b": 22})), "It is 42."]
        )
        agent = ChatAgent(client, name="calc", tools=tools)
        response = await agent.run("20+22?")
        assert response.text == "It is 42."
        assert response.tool_results[0].result == "42"
        # The model was offered the server's schema.
        offered = client.requests[0].tools[0]
        assert offered.name == "add" and offered.parameters["required"] == ["a", "b"]


async def test_tool_errors_go_back_to_the_model() -> None:
    async with stdio_tools(include=["fail", "add"]) as tools:
        with pytest.raises(MCPToolError, match="fail"):
            await tools["fail"].invoke({"reason": "x"})
        client = ScriptedChatClient(
            [
                ScriptedChatClient.calls(("fail", {"reason": "why"}), ("add", {"a": "zz"})),
                "sorry",
            ]
        )
        agent = ChatAgent(client, name="a", tools=tools)
        response = await agent.run("go")
        results = {r.name: r for r in response.tool_results}
        assert results["fail"].is_error and "fail" in results["fail"].result
        # A missing required argument is caught before the call, with the schema shown.
        assert results["add"].is_error and "missing ['b']" in results["add"].result
        assert response.text == "sorry"


async def test_a_crashed_stdio_server_is_restarted_once_per_call() -> None:
    async with stdio_tools() as tools:
        first = await tools["pid"].invoke({})
        with pytest.raises(MCPServerError):
            await tools["die"].invoke({})  # the server dies while answering
        # The next call finds the connection closed, restarts the server and succeeds.
        second = await tools["pid"].invoke({})
        assert second != first
        assert tools.reconnects >= 1
        assert await tools["add"].invoke({"a": 1, "b": 1}) == 2


async def test_a_slow_tool_times_out_with_a_clear_error() -> None:
    async with stdio_tools(timeout=1.0, connect_timeout=60) as tools:
        t0 = time.monotonic()
        with pytest.raises(MCPServerError, match="slow"):
            await tools["slow"].invoke({"seconds": 30})
        assert time.monotonic() - t0 < 15


async def test_a_program_that_is_not_an_mcp_server_fails_clearly() -> None:
    with pytest.raises(MCPServerError, match=r"not-mcp|cannot connect|did not answer"):
        async with MCPTools.stdio(
            sys.executable,
            ["-c", "print('not-mcp'); import time; time.sleep(30)"],
            connect_timeout=5,
        ):
            pass
    with pytest.raises(MCPServerError, match="no-such-command-xyz"):
        async with MCPTools.stdio("no-such-command-xyz", connect_timeout=5):
            pass


async def test_unknown_tool_name_in_include_is_an_error() -> None:
    with pytest.raises(MCPServerError, match="nope"):
        async with stdio_tools(include=["add", "nope"]):
            pass


async def test_streamable_http_server(http_server: str) -> None:
    async with MCPTools.http(http_server) as tools:
        assert await tools["add"].invoke({"a": 4, "b": 5}) == 9
        client = ScriptedChatClient([ScriptedChatClient.calls(("add", {"a": 1, "b": 2})), "3"])
        agent = ChatAgent(client, name="calc", tools=tools)
        assert (await agent.run("1+2")).text == "3"


async def test_http_server_down_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    with pytest.raises(MCPServerError, match=r"127\.0\.0\.1"):
        async with MCPTools.http(url, connect_timeout=5):
            pass


# ------------------------------------------------------------------ serve_mcp, SDK client
async def test_serve_mcp_agent_through_the_sdk_client() -> None:
    agent = ChatAgent(ScriptedChatClient(["Bonjour"]), name="french", description="Translates.")
    server = serve_mcp(agent)
    async with Client(server) as client:
        listed = (await client.list_tools()).tools
        assert [t.name for t in listed] == ["french"]
        assert listed[0].description == "Translates."
        assert listed[0].input_schema["properties"]["input"]["type"] == "string"
        result = await client.call_tool("french", {"input": "Hello"})
        assert not result.is_error
        assert result.content[0].text == "Bonjour"


async def test_serve_mcp_workflow_through_the_sdk_client() -> None:
    @executor(id="double")
    async def double(n: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.yield_output(n * 2)

    wf = WorkflowBuilder(name="doubler", start=double).build()
    server = serve_mcp(wf)
    async with Client(server) as client:
        (tool,) = (await client.list_tools()).tools
        assert tool.name == "doubler"
        assert tool.input_schema["properties"]["input"]["type"] == "integer"
        result = await client.call_tool("doubler", {"input": 21})
        assert not result.is_error
        assert json.loads(result.content[0].text) == 42
        bad = await client.call_tool("doubler", {"input": "not a number"})
        assert bad.is_error


async def test_serve_mcp_workflow_that_waits_is_a_tool_error() -> None:
    @executor(id="ask")
    async def ask(text: str, ctx: WorkflowContext[None, str]) -> None:
        answer = await ctx.request_info(text, response_type=str)
        await ctx.yield_output(answer)

    server = serve_mcp(WorkflowBuilder(name="asker", start=ask).build())
    async with Client(server) as client:
        result = await client.call_tool("asker", {"input": "approve?"})
        assert result.is_error
        assert "waiting" in result.content[0].text


async def test_our_mcp_tools_against_our_served_agent_in_process() -> None:
    # Round trip the other way too (SDK server object in the middle).
    agent = ChatAgent(ScriptedChatClient(["42"]), name="oracle")
    async with MCPTools.connect(serve_mcp(agent)) as tools:
        assert tools.names == ["oracle"]
        assert await tools["oracle"].invoke({"input": "meaning?"}) == "42"


def test_serve_mcp_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="Agent or a Workflow"):
        serve_mcp(object())


async def test_tools_used_outside_the_context_fail_clearly() -> None:
    async with stdio_tools(include=["add"]) as tools:
        add = tools["add"]
    with pytest.raises(MCPServerError, match="not connected"):
        await add.invoke({"a": 1, "b": 2})
    await asyncio.sleep(0)


async def test_a_tool_model_apis_would_reject_is_a_clear_error_and_can_be_left_out() -> None:
    from mcp.server import MCPServer

    server = MCPServer("mixed")

    def ok(x: int) -> int:
        return x

    def bad(x: int) -> int:
        return x

    server.add_tool(ok, name="ok")
    server.add_tool(bad, name="has space!")
    with pytest.raises(MCPServerError, match=r"tool 'has space!'.*include="):
        async with MCPTools.connect(server):
            pass
    async with MCPTools.connect(server, include=["ok"]) as tools:
        assert tools.names == ["ok"] and await tools["ok"].invoke({"x": 3}) == 3
