"""A2A through the official a2a-sdk: serve_a2a against the SDK's own client, A2AAgent
against servers written with the SDK's own server API. Never our code on both ends."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from a2a.client import create_client
from a2a.helpers.proto_helpers import (
    get_message_text,
    get_stream_response_text,
    new_task_from_user_message,
    new_text_message,
    new_text_part,
)
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandlerV2
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    CancelTaskRequest,
    Role,
    SendMessageRequest,
    TaskState,
)
from starlette.applications import Starlette

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.agents import AgentResponse, AgentRunUpdate, AgentThread, BaseAgent, ChatAgent
from agentic_nb.llm import ChatMessage, ScriptedChatClient
from agentic_nb.patterns import SequentialBuilder
from agentic_nb.remote import A2AAgent, A2AError, serve_a2a


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------ SDK-written remote servers
class SdkAgent(AgentExecutor):
    """An A2A agent written directly with the SDK's server API (not ours)."""

    def __init__(self, mode: str = "echo") -> None:
        self.mode = mode
        self.contexts: list[str] = []
        self.cancelled = asyncio.Event()

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task = context.current_task or new_task_from_user_message(context.message)
        if context.current_task is None:
            await event_queue.enqueue_event(task)
        self.contexts.append(task.context_id)
        up = TaskUpdater(event_queue, task.id, task.context_id)
        await up.start_work()
        text = context.get_user_input()

        def msg(t: str) -> Any:
            return new_text_message(t, context_id=task.context_id, task_id=task.id)

        if self.mode == "echo":
            for word in text.split():
                await up.update_status(TaskState.TASK_STATE_WORKING, msg(word))
            await up.add_artifact([new_text_part(text.upper())], name="answer")
            await up.complete()
        elif self.mode == "ask":
            if context.current_task is None:
                await up.requires_input(msg("Which colour?"))
                return
            await up.add_artifact([new_text_part(f"colour is {text}")], name="answer")
            await up.complete()
        elif self.mode == "forever":
            try:
                while True:
                    await up.update_status(TaskState.TASK_STATE_WORKING, msg("tick"))
                    await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        elif self.mode == "silent":
            await asyncio.sleep(3600)
        elif self.mode == "fail":
            await up.failed(msg("the remote model is down"))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        self.cancelled.set()
        await TaskUpdater(event_queue, context.task_id, context.context_id).cancel()


@contextlib.asynccontextmanager
async def sdk_server(executor_: SdkAgent, name: str = "sdk-agent") -> AsyncIterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    card = AgentCard(
        name=name,
        description="written with the a2a-sdk server API",
        version="1.0",
        supported_interfaces=[
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0")
        ],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="s", name="s", description="s", tags=["t"])],
    )
    handler = DefaultRequestHandlerV2(
        agent_executor=executor_, task_store=InMemoryTaskStore(), agent_card=card
    )
    app = Starlette(routes=[*create_agent_card_routes(card), *create_jsonrpc_routes(handler, "/")])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


# ------------------------------------------------------------ A2AAgent vs SDK servers
async def test_a2a_agent_runs_and_streams_against_an_sdk_server() -> None:
    async with sdk_server(SdkAgent("echo")) as url:
        agent = A2AAgent(url)
        response = await agent.run("hello big world")
        assert response.text == "HELLO BIG WORLD"
        assert agent.name == "sdk-agent"  # taken from the agent card
        assert agent.id == "sdk-agent"  # and so is the executor id
        chunks = [u async for u in agent.run_stream("one two")]
        assert [u.text for u in chunks if not u.done] == ["one", "two"]
        assert chunks[-1].done and chunks[-1].response is not None
        await agent.aclose()


async def test_a_thread_maps_to_one_a2a_context() -> None:
    remote = SdkAgent("echo")
    async with sdk_server(remote) as url:
        agent = A2AAgent(url)
        thread = agent.new_thread()
        await agent.run("a", thread=thread)
        await agent.run("b", thread=thread)
        await agent.run("c")  # no thread: a new context
        assert remote.contexts[0] == remote.contexts[1] != remote.contexts[2]
        assert [m.text for m in thread.messages] == ["a", "A", "b", "B"]


async def test_input_required_makes_the_run_wait_and_the_next_run_answers() -> None:
    async with sdk_server(SdkAgent("ask")) as url:
        agent = A2AAgent(url)
        thread = agent.new_thread()
        first = await agent.run("paint the wall", thread=thread)
        assert first.status == "waiting" and "Which colour?" in first.status_detail
        second = await agent.run("blue", thread=thread)
        assert second.status == "completed" and second.text == "colour is blue"


async def test_a_remote_that_streams_forever_is_cut_and_cancelled() -> None:
    remote = SdkAgent("forever")
    async with sdk_server(remote) as url:
        agent = A2AAgent(url, timeout=1.0)
        t0 = time.monotonic()
        with pytest.raises(A2AError, match=r"sent nothing|timeout"):
            await agent.run("go")
        assert time.monotonic() - t0 < 15
        await asyncio.wait_for(remote.cancelled.wait(), 10)


async def test_a_silent_remote_hits_the_idle_timeout() -> None:
    async with sdk_server(SdkAgent("silent")) as url:
        agent = A2AAgent(url, idle_timeout=1.0)
        with pytest.raises(A2AError, match="sent nothing"):
            await agent.run("anyone?")


async def test_a_failed_remote_task_is_an_error_naming_the_agent() -> None:
    async with sdk_server(SdkAgent("fail"), name="flaky") as url:
        with pytest.raises(A2AError, match=r"flaky.*FAILED.*model is down"):
            await A2AAgent(url).run("x")


async def test_a_server_that_is_down_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(A2AError, match=r"cannot reach A2A agent at 'http://127\.0\.0\.1"):
        await A2AAgent(url).run("hello?")


async def test_a_url_that_is_not_an_a2a_agent_is_a_clear_error() -> None:
    port = free_port()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"<html>not a card</html>"})

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        with pytest.raises(A2AError, match="cannot reach A2A agent"):
            await A2AAgent(f"http://127.0.0.1:{port}").run("hello")
    finally:
        server.should_exit = True
        await task


async def test_a2a_agent_inside_a_sequential_pattern() -> None:
    async with sdk_server(SdkAgent("echo"), name="shouter") as url:
        remote = A2AAgent(url)
        await remote.connect()
        local = ChatAgent(ScriptedChatClient(["local reply"]), name="local")
        wf = SequentialBuilder(participants=[remote, local]).build()
        result = await wf.run("make it loud")
        assert result.status == "completed"
        texts = [m.text for m in result.outputs[-1].messages]
        assert texts == ["MAKE IT LOUD", "local reply"]


# ------------------------------------------------------------ serve_a2a vs the SDK client
class Slow(BaseAgent):
    def __init__(self) -> None:
        super().__init__(name="slow")
        self.cancelled = asyncio.Event()

    async def _updates(
        self, messages: Any, *, thread: AgentThread | None, stream: bool, **options: Any
    ) -> AsyncIterator[AgentRunUpdate]:
        try:
            for i in range(10_000):
                yield AgentRunUpdate(agent_id=self.id, text=f"t{i}")
                await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        yield AgentRunUpdate(
            agent_id=self.id, done=True, response=AgentResponse([ChatMessage("assistant", "x")])
        )


async def test_served_agent_through_the_sdk_client_streams_and_completes() -> None:
    agent = ChatAgent(ScriptedChatClient(["Bonjour le monde"]), name="french", description="FR")
    async with serve_a2a(agent) as server:
        async with httpx.AsyncClient() as http:
            card = (await http.get(server.card_url)).json()
        assert card["name"] == "french" and card["capabilities"]["streaming"] is True
        client = await create_client(server.url)
        msg = new_text_message("Hello world", role=Role.ROLE_USER)
        kinds, texts = [], []
        async for resp in client.send_message(SendMessageRequest(message=msg)):
            kinds.append(resp.WhichOneof("payload"))
            texts.append(get_stream_response_text(resp))
        await client.close()
        assert "artifact_update" in kinds and "Bonjour le monde" in texts
        assert kinds[0] == "task"


async def test_served_workflow_request_info_is_input_required_then_answered() -> None:
    @executor(id="approve")
    async def approve(text: str, ctx: WorkflowContext[None, str]) -> None:
        ok = await ctx.request_info(f"Publish {text!r}?", response_type=bool)
        await ctx.yield_output("published" if ok else "dropped")

    wf = WorkflowBuilder(name="publisher", start=approve).build()
    async with serve_a2a(wf) as server:
        client = await create_client(server.url)
        first = [
            r
            async for r in client.send_message(
                SendMessageRequest(message=new_text_message("draft 1", role=Role.ROLE_USER))
            )
        ]
        last = first[-1]
        assert last.WhichOneof("payload") == "status_update"
        assert last.status_update.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        assert "Publish 'draft 1'?" in get_message_text(last.status_update.status.message)
        task_id, context_id = last.status_update.task_id, last.status_update.context_id
        answer = new_text_message(
            "yes", role=Role.ROLE_USER, task_id=task_id, context_id=context_id
        )
        second = [r async for r in client.send_message(SendMessageRequest(message=answer))]
        await client.close()
        texts = [get_stream_response_text(r) for r in second]
        assert "published" in texts
        assert second[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
        assert server.runs == {}


async def test_sdk_cancel_cancels_the_served_run() -> None:
    slow = Slow()
    async with serve_a2a(slow) as server:
        client = await create_client(server.url)
        stream = client.send_message(
            SendMessageRequest(message=new_text_message("go", role=Role.ROLE_USER))
        )
        task_id = None
        async for resp in stream:
            if resp.WhichOneof("payload") == "task":
                task_id = resp.task.id
            if resp.WhichOneof("payload") == "status_update" and "t2" in get_stream_response_text(
                resp
            ):
                break
        assert task_id
        task = await client.cancel_task(CancelTaskRequest(id=task_id))
        assert task.status.state == TaskState.TASK_STATE_CANCELED
        await asyncio.wait_for(slow.cancelled.wait(), 10)
        await client.close()


async def test_our_client_against_our_server_workflow_waits_then_answers() -> None:
    @executor(id="colour")
    async def colour(text: str, ctx: WorkflowContext[None, str]) -> None:
        c = await ctx.request_info("Which colour?", response_type=str)
        await ctx.yield_output(f"{text} in {c}")

    async with serve_a2a(WorkflowBuilder(name="painter", start=colour).build()) as server:
        agent = A2AAgent(server.url)
        thread = agent.new_thread()
        first = await agent.run("the wall", thread=thread)
        assert first.status == "waiting" and first.status_detail == "Which colour?"
        second = await agent.run("blue", thread=thread)
        assert second.text == "the wall in blue"


async def test_serve_a2a_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="Agent or a Workflow"):
        async with serve_a2a(object()):
            pass


async def test_a_served_workflow_that_fails_ends_the_task_failed_with_its_error() -> None:
    @executor(id="explode")
    async def explode(text: str, ctx: WorkflowContext[None, str]) -> None:
        raise RuntimeError("the disk is full")

    async with serve_a2a(WorkflowBuilder(name="fragile", start=explode).build()) as server:
        client = await create_client(server.url)
        events = [
            r
            async for r in client.send_message(
                SendMessageRequest(message=new_text_message("go", role=Role.ROLE_USER))
            )
        ]
        await client.close()
    last = events[-1].status_update
    assert last.status.state == TaskState.TASK_STATE_FAILED
    text = get_message_text(last.status.message)
    assert "workflow ended failed" in text and "the disk is full" in text
