"""A2A through the official ``a2a-sdk`` (1.x, protocol v1.0), in both directions.

- :class:`A2AAgent` — a remote A2A agent used as an ordinary agent (``run``,
  ``run_stream``, in workflows and patterns). A thread maps to an A2A context id; a
  remote task that asks for input ends the run with status ``"waiting"`` and the next
  ``run`` on the same thread answers it.
- :func:`serve_a2a` — host any agent or workflow as an A2A server: agent card at
  ``/.well-known/agent-card.json``, JSON-RPC with streaming at ``/``, task status
  updates while it works; a workflow's ``request_info`` becomes ``input-required``
  and the next message on that task answers it; an A2A cancel cancels the run.

Example::

    >>> import asyncio
    >>> from agentic_nb.agents import ChatAgent
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> async def main():
    ...     local = ChatAgent(ScriptedChatClient(["Hello from A2A"]), name="greeter")
    ...     async with serve_a2a(local) as server:
    ...         remote = A2AAgent(server.url)
    ...         return (await remote.run("hi")).text, remote.name
    >>> asyncio.run(main())
    ('Hello from A2A', 'greeter')
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agentic_nb._optional import require
from agentic_nb.agents import (
    Agent,
    AgentResponse,
    AgentRunUpdate,
    AgentThread,
    BaseAgent,
)
from agentic_nb.llm import ChatMessage, as_messages

__all__ = ["A2AAgent", "A2AError", "A2AServer", "serve_a2a"]

_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")

#: Thread metadata keys used to continue a remote conversation.
CONTEXT_KEY = "a2a_context_id"
TASK_KEY = "a2a_input_required_task_id"


class A2AError(RuntimeError):
    """A remote A2A agent is down, failed, or answered something malformed."""


def _a2a() -> Any:
    require("a2a", "remote")
    import a2a.types as types

    return types


def _text_of_messages(messages: list[ChatMessage]) -> str:
    return "\n".join(m.text for m in messages if m.text)


# ============================================================================ client side
class A2AAgent(BaseAgent):
    """A remote A2A agent, used like any local agent.

    ``url_or_card`` is the agent's base URL (its card is fetched from
    ``/.well-known/agent-card.json``) or an ``a2a.types.AgentCard``. ``timeout``
    bounds one call; a remote that sends nothing for ``idle_timeout`` seconds is
    given up on (the remote task is cancelled).
    """

    def __init__(
        self,
        url_or_card: Any,
        *,
        name: str | None = None,
        id: str | None = None,
        description: str = "",
        timeout: float | None = 300.0,
        idle_timeout: float | None = 120.0,
    ) -> None:
        types = _a2a()
        card = url_or_card if isinstance(url_or_card, types.AgentCard) else None
        self._source = url_or_card if card is None else card
        self._card = card
        self._client: Any = None
        label = name or (card.name if card is not None else None)
        super().__init__(
            name=label or "a2a_agent",
            id=id,
            description=description or (card.description if card is not None else ""),
        )
        self._named = label is not None
        self._explicit_id = id is not None
        self._http: Any = None
        self.timeout = timeout
        self.idle_timeout = idle_timeout

    @property
    def card(self) -> Any:
        """The remote agent card (fetched on first use)."""
        return self._card

    @property
    def url(self) -> str:
        if isinstance(self._source, str):
            return self._source
        interfaces = list(self._source.supported_interfaces)
        return interfaces[0].url if interfaces else "?"

    async def connect(self) -> A2AAgent:
        """Fetch the card and open the client (done on first ``run``)."""
        if self._client is not None:
            return self
        client_mod = require("a2a.client", "remote")
        httpx = require("httpx", "remote")
        # Our own timeouts govern the call (idle_timeout between chunks, timeout overall);
        # the HTTP client only bounds connecting, so a slow model is not cut mid-stream.
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10.0))
        config = client_mod.ClientConfig(httpx_client=self._http)
        try:
            self._client = await asyncio.wait_for(
                client_mod.create_client(self._source, client_config=config),
                timeout=self.idle_timeout or 60,
            )
        except TimeoutError:
            raise A2AError(
                f"A2A agent at {self.url!r} did not answer (agent card) within "
                f"{self.idle_timeout:g} s; is the server running?"
            ) from None
        except Exception as exc:
            raise A2AError(
                f"cannot reach A2A agent at {self.url!r}: {type(exc).__name__}: {exc}; check "
                f"the URL and that the server is running"
            ) from exc
        if self._card is None:
            self._card = getattr(self._client, "_card", None) or await self._fetch_card()
        if not self._named and self._card is not None and self._card.name:
            self._name = self._card.name
            if not self._explicit_id and self._executor is None:
                self._id = _SAFE_ID.sub("_", self._card.name)
            self.description = self.description or self._card.description
        return self

    async def _fetch_card(self) -> Any:
        with contextlib.suppress(Exception):
            return await self._client.get_extended_agent_card()
        return None

    async def aclose(self) -> None:
        """Close the connection to the remote agent."""
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                await client.close()
        if self._http is not None:
            http, self._http = self._http, None
            with contextlib.suppress(Exception):
                await http.aclose()

    async def _updates(
        self, messages: Any, *, thread: AgentThread | None, stream: bool, **options: Any
    ) -> AsyncIterator[AgentRunUpdate]:
        types = _a2a()
        helpers = require("a2a.helpers.proto_helpers", "remote")
        await self.connect()
        new = as_messages(messages, where=f"agent {self.name!r}") if messages is not None else []
        text = _text_of_messages(new)
        context_id = thread.metadata.get(CONTEXT_KEY) if thread is not None else None
        task_id = thread.metadata.pop(TASK_KEY, None) if thread is not None else None
        message = helpers.new_text_message(
            text, context_id=context_id, task_id=task_id, role=types.Role.ROLE_USER
        )
        request = types.SendMessageRequest(message=message)
        texts: list[str] = []
        artifacts: list[str] = []
        state = None
        status_text = ""
        remote_task = None
        loop = asyncio.get_running_loop()
        deadline = None if self.timeout is None else loop.time() + self.timeout
        stream_iter = self._client.send_message(request).__aiter__()
        try:
            while True:
                wait = self.idle_timeout
                if deadline is not None:
                    left = max(0.0, deadline - loop.time())
                    wait = left if wait is None else min(wait, left)
                try:
                    resp = await asyncio.wait_for(stream_iter.__anext__(), wait)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    await self._cancel_remote(remote_task)
                    raise A2AError(
                        f"A2A agent {self.name!r} at {self.url!r} sent nothing for {wait:g} s "
                        f"(timeout={self.timeout}, idle_timeout={self.idle_timeout}); its task "
                        f"was cancelled"
                    ) from None
                except A2AError:
                    raise
                except Exception as exc:
                    raise A2AError(
                        f"A2A agent {self.name!r} at {self.url!r} failed: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                kind = resp.WhichOneof("payload")
                if kind == "message":
                    chunk = helpers.get_message_text(resp.message)
                    texts.append(chunk)
                    context_id = resp.message.context_id or context_id
                    state = types.TaskState.TASK_STATE_COMPLETED
                elif kind == "task":
                    remote_task = resp.task.id
                    context_id = resp.task.context_id or context_id
                    state = resp.task.status.state
                    if resp.task.artifacts:
                        artifacts = [helpers.get_artifact_text(a) for a in resp.task.artifacts]
                elif kind == "status_update":
                    su = resp.status_update
                    remote_task = su.task_id or remote_task
                    context_id = su.context_id or context_id
                    state = su.status.state
                    chunk = (
                        helpers.get_message_text(su.status.message)
                        if su.status.HasField("message")
                        else ""
                    )
                    if state == types.TaskState.TASK_STATE_WORKING and chunk:
                        texts.append(chunk)
                        yield AgentRunUpdate(agent_id=self.id, author_name=self.name, text=chunk)
                    elif chunk:
                        status_text = chunk
                elif kind == "artifact_update":
                    au = resp.artifact_update
                    chunk = helpers.get_artifact_text(au.artifact)
                    if au.append and artifacts:
                        artifacts[-1] += chunk
                    else:
                        artifacts.append(chunk)
        except BaseException:
            if state not in _terminal(types):
                await self._cancel_remote(remote_task)
            raise
        if thread is not None and context_id:
            thread.metadata[CONTEXT_KEY] = context_id
        answer = "\n".join(a for a in artifacts if a) or status_text or "".join(texts)
        status = "completed"
        detail = ""
        if state == types.TaskState.TASK_STATE_INPUT_REQUIRED:
            status, detail = "waiting", status_text or "the remote agent asks for input"
            if thread is not None and remote_task:
                thread.metadata[TASK_KEY] = remote_task
            answer = status_text or answer
        elif state in (
            types.TaskState.TASK_STATE_FAILED,
            types.TaskState.TASK_STATE_REJECTED,
            types.TaskState.TASK_STATE_CANCELED,
        ):
            name = types.TaskState.Name(state)
            raise A2AError(
                f"A2A agent {self.name!r} ended its task {remote_task!r} with {name}: "
                f"{status_text or answer or 'no message'}"
            )
        elif state is None:
            raise A2AError(
                f"A2A agent {self.name!r} at {self.url!r} closed the stream without a task "
                f"or message"
            )
        reply = ChatMessage("assistant", answer, author_name=self.name)
        if thread is not None:
            await thread.add_messages([*new, reply])
        response = AgentResponse(
            messages=[reply],
            agent_id=self.id,
            status=status,
            status_detail=detail,
            thread_id=thread.id if thread is not None else None,
            metadata={"a2a_task_id": remote_task, "a2a_context_id": context_id},
        )
        yield AgentRunUpdate(
            agent_id=self.id, author_name=self.name, done=True, status=status, response=response
        )

    async def _cancel_remote(self, task_id: str | None) -> None:
        if not task_id or self._client is None:
            return
        types = _a2a()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._client.cancel_task(types.CancelTaskRequest(id=task_id)), 5)


def _terminal(types: Any) -> set[Any]:
    s = types.TaskState
    return {
        s.TASK_STATE_COMPLETED,
        s.TASK_STATE_FAILED,
        s.TASK_STATE_CANCELED,
        s.TASK_STATE_REJECTED,
        s.TASK_STATE_INPUT_REQUIRED,
    }


# ============================================================================ server side
@dataclass
class A2AServer:
    """A running A2A server (yielded by :func:`serve_a2a`)."""

    url: str
    card: Any
    runs: dict[str, Any] = field(default_factory=dict)

    @property
    def card_url(self) -> str:
        return self.url.rstrip("/") + "/.well-known/agent-card.json"


class _Executor:
    """The SDK's AgentExecutor over an agentic_nb agent or workflow."""

    def __init__(self, target: Any, server: A2AServer) -> None:
        self.target = target
        self.server = server
        self.threads: dict[str, AgentThread] = {}

    async def execute(self, context: Any, event_queue: Any) -> None:
        types = _a2a()
        helpers = require("a2a.helpers.proto_helpers", "remote")
        tasks_mod = require("a2a.server.tasks", "remote")
        task = context.current_task
        if task is None:
            task = helpers.new_task_from_user_message(context.message)
            await event_queue.enqueue_event(task)
        updater = tasks_mod.TaskUpdater(event_queue, task.id, task.context_id)
        await updater.start_work()

        def say(text: str) -> Any:
            return helpers.new_text_message(text, context_id=task.context_id, task_id=task.id)

        text = context.get_user_input()
        try:
            from agentic_nb.workflow import Workflow

            if isinstance(self.target, Workflow):
                await self._workflow(task, text, updater, say, helpers, types)
            else:
                await self._agent(task, text, updater, say, helpers, types)
        except asyncio.CancelledError:
            run = self.server.runs.pop(task.id, None)
            if run is not None:
                run.cancel()
            raise
        except Exception as exc:
            await updater.failed(say(f"{type(exc).__name__}: {exc}"))

    async def _agent(
        self, task: Any, text: str, updater: Any, say: Any, helpers: Any, types: Any
    ) -> None:
        thread = self.threads.get(task.context_id)
        if thread is None:
            thread = self.threads[task.context_id] = AgentThread(agent_id=self.target.id)
        final: AgentResponse | None = None
        async for update in self.target.run_stream(text, thread=thread):
            if update.done:
                final = update.response
            elif update.text:
                await updater.update_status(types.TaskState.TASK_STATE_WORKING, say(update.text))
        if final is None:
            raise A2AError(f"agent {self.target.name!r} ended without a response")
        if final.status == "waiting":
            await updater.requires_input(say(final.status_detail or final.text))
            return
        await updater.add_artifact([helpers.new_text_part(final.text)], name="response")
        await updater.complete()

    async def _workflow(
        self, task: Any, text: str, updater: Any, say: Any, helpers: Any, types: Any
    ) -> None:
        run = self.server.runs.get(task.id)
        if run is None:
            run = self.target.start(_parse_input(self.target, text))
            self.server.runs[task.id] = run
        else:
            pending = run.pending_requests
            if not pending:
                raise A2AError(f"task {task.id!r} has no pending question to answer")
            req = pending[0]
            await run.respond(req.request_id, _parse_answer(text, req.response_type), resume=False)
        seen_outputs = len(run.outputs)
        async for ev in run.stream():
            chunk = getattr(ev, "text", None) if type(ev).__name__ == "AgentRunUpdate" else None
            if chunk:
                await updater.update_status(types.TaskState.TASK_STATE_WORKING, say(chunk))
        for output in run.outputs[seen_outputs:]:
            await updater.add_artifact([_part(helpers, output)], name="output")
        if run.status == "waiting":
            req = run.pending_requests[0]
            prompt = req.request if isinstance(req.request, str) else _to_json(req.request)
            await updater.requires_input(say(str(prompt)))
            return
        self.server.runs.pop(task.id, None)
        if run.status == "completed":
            await updater.complete()
        else:
            error = run.result().error
            await updater.failed(say(f"workflow ended {run.status}: {error}"))

    async def cancel(self, context: Any, event_queue: Any) -> None:
        tasks_mod = require("a2a.server.tasks", "remote")
        run = self.server.runs.pop(context.task_id, None)
        if run is not None:
            run.cancel()
        updater = tasks_mod.TaskUpdater(event_queue, context.task_id, context.context_id)
        await updater.cancel()


def _to_json(value: Any) -> str:
    from agentic_nb.workflow.codec import encode

    return json.dumps(encode(value), default=str)


def _part(helpers: Any, value: Any) -> Any:
    if isinstance(value, str):
        return helpers.new_text_part(value)
    return helpers.new_text_part(_to_json(value), media_type="application/json")


def _parse_input(workflow: Any, text: str) -> Any:
    start = next(e for e in workflow.executors if e.id == workflow.start_executor_id)
    types = [t for t in start.input_types if t is not Any]
    if not types or str in types:
        return text
    return _parse_answer(text, types[0])


def _parse_answer(text: str, response_type: Any) -> Any:
    if response_type in (Any, str, None):
        return text
    if response_type is bool:
        low = text.strip().lower()
        if low in {"yes", "y", "true", "approve", "approved", "ok", "1"}:
            return True
        if low in {"no", "n", "false", "reject", "rejected", "0"}:
            return False
    pydantic = require("pydantic", "llm")
    adapter = pydantic.TypeAdapter(response_type)
    try:
        return adapter.validate_json(text)
    except pydantic.ValidationError:
        return adapter.validate_python(text)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve_a2a(
    agent_or_workflow: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    name: str | None = None,
    description: str | None = None,
) -> AsyncIterator[A2AServer]:
    """Serve an agent or workflow over A2A (JSON-RPC + streaming) while in the block.

    ``port=0`` picks a free port; the yielded server's ``url`` is the base URL the
    agent card names (``A2AAgent(server.url)`` connects to it).
    """
    from agentic_nb.workflow import Workflow

    if not isinstance(agent_or_workflow, Agent | Workflow):
        raise TypeError(
            f"serve_a2a expects an Agent or a Workflow, got {type(agent_or_workflow).__name__}"
        )
    types = _a2a()
    execution = require("a2a.server.agent_execution", "remote")
    handlers = require("a2a.server.request_handlers", "remote")
    routes = require("a2a.server.routes", "remote")
    tasks_mod = require("a2a.server.tasks", "remote")
    uvicorn = require("uvicorn", "remote")
    starlette = require("starlette.applications", "remote")

    port = port or _free_port()
    url = f"http://{host}:{port}"
    label = name or getattr(agent_or_workflow, "name", None) or "workflow"
    desc = description or getattr(agent_or_workflow, "description", "") or f"agentic_nb {label}"
    card = types.AgentCard(
        name=label,
        description=desc,
        version="1.0",
        supported_interfaces=[
            types.AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0")
        ],
        capabilities=types.AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain", "application/json"],
        skills=[
            types.AgentSkill(id=_skill_id(label), name=label, description=desc, tags=["agentic_nb"])
        ],
    )
    server = A2AServer(url=url, card=card)
    bridge = _Executor(agent_or_workflow, server)

    class Executor(execution.AgentExecutor):  # type: ignore[name-defined]
        async def execute(self, context: Any, event_queue: Any) -> None:
            await bridge.execute(context, event_queue)

        async def cancel(self, context: Any, event_queue: Any) -> None:
            await bridge.cancel(context, event_queue)

    handler = handlers.DefaultRequestHandlerV2(
        agent_executor=Executor(), task_store=tasks_mod.InMemoryTaskStore(), agent_card=card
    )
    app = starlette.Starlette(
        routes=[*routes.create_agent_card_routes(card), *routes.create_jsonrpc_routes(handler, "/")]
    )
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    serving = asyncio.create_task(uv.serve())
    try:
        for _ in range(600):
            if uv.started or serving.done():
                break
            await asyncio.sleep(0.05)
        if serving.done() or not uv.started:
            exc = serving.exception() if serving.done() else None
            raise A2AError(f"the A2A server could not start on {url}: {exc or 'timeout'}")
        yield server
    finally:
        for run in list(server.runs.values()):
            run.cancel()
        uv.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(serving, 10)


def _skill_id(label: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_-]+", "_", label) or "run"


def new_context_id() -> str:
    return uuid.uuid4().hex
