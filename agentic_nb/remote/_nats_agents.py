"""Agents served over NATS: ``serve_agent`` hosts one, ``NatsProxyAgent`` calls it from anywhere.

Protocol (plain NATS core, JSON through agentic_nb's codec, never pickle):

- ``agentic.agents.<name>.run`` (queue group ``agentic-agents``, so several hosts of one
  agent share the load): the caller sends ``{"call_id", "messages", "history", "options",
  "reply"}`` as a request; the host answers the request at once with ``{"ok": true}``
  (so "nobody hosts this agent" is detected immediately), then publishes to ``reply``
  one message per update ``{"seq", "update"}`` and a last one ``{"seq", "done": true,
  "response", "new_messages"}`` or ``{"seq", "error"}``.
- ``agentic.agents.<name>.cancel`` carries ``{"call_id"}``: the host cancels that run.

``<name>`` is encoded with :func:`agentic_nb.nats.encode_token`.

Example::

    >>> import asyncio
    >>> from agentic_nb.agents import ChatAgent
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> from agentic_nb.nats import LocalNatsServer, connect
    >>> async def main(url):
    ...     nc = await connect(url)
    ...     agent = ChatAgent(ScriptedChatClient(["pong"]), name="pinger")
    ...     async with serve_agent(agent, nc):
    ...         text = (await NatsProxyAgent("pinger", nc).run("ping")).text
    ...     await nc.close()
    ...     return text
    >>> with LocalNatsServer() as server:
    ...     asyncio.run(main(server.url))
    'pong'
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from agentic_nb.agents import Agent, AgentResponse, AgentRunUpdate, AgentThread, BaseAgent
from agentic_nb.llm import as_messages
from agentic_nb.nats import encode_token
from agentic_nb.workflow.codec import decode, encode

__all__ = [
    "AgentHost",
    "AgentUnavailableError",
    "NatsProxyAgent",
    "RemoteAgentError",
    "serve_agent",
]

QUEUE_GROUP = "agentic-agents"


class AgentUnavailableError(RuntimeError):
    """No process hosts the agent (nobody listens on its subject)."""


class RemoteAgentError(RuntimeError):
    """The remote agent failed, timed out, or sent something malformed."""


def agent_subject(name: str, verb: str) -> str:
    """The subject of an agent's ``run`` or ``cancel`` endpoint.

    Example::

        >>> agent_subject("writer.v2", "run")
        'agentic.agents.writer=2Ev2.run'
    """
    return f"agentic.agents.{encode_token(name)}.{verb}"


def _dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


class AgentHost:
    """A running host of one agent on a NATS connection (see :func:`serve_agent`)."""

    def __init__(self, agent: Agent, connection: Any, *, name: str | None = None) -> None:
        self.agent = agent
        self.name = name or agent.name
        self._nc = connection
        self._subs: list[Any] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.calls = 0

    @property
    def subject(self) -> str:
        return agent_subject(self.name, "run")

    async def start(self) -> AgentHost:
        self._subs.append(await self._nc.subscribe(self.subject, QUEUE_GROUP, cb=self._on_run))
        self._subs.append(
            await self._nc.subscribe(agent_subject(self.name, "cancel"), cb=self._on_cancel)
        )
        await self._nc.flush()
        return self

    async def aclose(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        with contextlib.suppress(Exception):
            await self._nc.flush()

    async def __aenter__(self) -> AgentHost:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _on_run(self, msg: Any) -> None:
        try:
            request = json.loads(msg.data)
            call_id = str(request["call_id"])
            reply = str(request["reply"])
            messages = decode(request.get("messages"))
            history = decode(request.get("history") or [])
            options = request.get("options") or {}
            if not isinstance(options, dict):
                raise ValueError("options must be a JSON object")
        except Exception as exc:
            with contextlib.suppress(Exception):
                await msg.respond(
                    _dumps({"ok": False, "error": f"malformed call to agent {self.name!r}: {exc}"})
                )
            return
        await msg.respond(_dumps({"ok": True}))
        self.calls += 1
        task = asyncio.create_task(self._serve(call_id, reply, messages, history, options))
        self._tasks[call_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(call_id, None))

    async def _serve(
        self, call_id: str, reply: str, messages: Any, history: list[Any], options: dict[str, Any]
    ) -> None:
        seq = 0
        thread = AgentThread(agent_id=self.agent.id, messages=history)
        before = len(thread.messages)
        try:
            async for update in self.agent.run_stream(messages, thread=thread, **options):
                seq += 1
                if update.done:
                    new = (await thread.get_messages())[before:]
                    await self._nc.publish(
                        reply,
                        _dumps(
                            {
                                "seq": seq,
                                "done": True,
                                "response": encode(update.response),
                                "new_messages": encode(new),
                            }
                        ),
                    )
                else:
                    await self._nc.publish(reply, _dumps({"seq": seq, "update": encode(update)}))
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self._nc.publish(
                    reply, _dumps({"seq": seq + 1, "error": "cancelled", "cancelled": True})
                )
            raise
        except Exception as exc:
            with contextlib.suppress(Exception):
                await self._nc.publish(
                    reply,
                    _dumps(
                        {
                            "seq": seq + 1,
                            "error": f"agent {self.name!r} raised {type(exc).__name__}: {exc}",
                        }
                    ),
                )

    async def _on_cancel(self, msg: Any) -> None:
        with contextlib.suppress(Exception):
            call_id = str(json.loads(msg.data)["call_id"])
            task = self._tasks.get(call_id)
            if task is not None:
                task.cancel()


@contextlib.asynccontextmanager
async def serve_agent(
    agent: Agent, connection: Any, *, name: str | None = None
) -> AsyncIterator[AgentHost]:
    """Host ``agent`` on NATS under ``name`` (default: the agent's name) while in the block.

    Several processes may host the same name: calls are spread among them.
    """
    if not isinstance(agent, Agent):
        raise TypeError(f"serve_agent expects an Agent, got {type(agent).__name__}")
    host = AgentHost(agent, connection, name=name)
    async with host:
        yield host


class NatsProxyAgent(BaseAgent):
    """A remote agent hosted with :func:`serve_agent`, used like any local agent.

    ``run`` / ``run_stream`` send the thread's history and the new messages; the
    remote answer's messages are added to the local thread. ``timeout`` bounds the
    whole call, ``idle_timeout`` the wait for each next chunk. Leaving ``run_stream``
    early (or cancelling the caller) cancels the remote run.
    """

    def __init__(
        self,
        name: str,
        connection: Any,
        *,
        id: str | None = None,
        description: str = "",
        timeout: float | None = 300.0,
        idle_timeout: float | None = 120.0,
        connect_timeout: float = 5.0,
    ) -> None:
        super().__init__(name=name, id=id, description=description)
        self._nc = connection
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout

    async def _updates(
        self, messages: Any, *, thread: AgentThread | None, stream: bool, **options: Any
    ) -> AsyncIterator[AgentRunUpdate]:
        nats_errors = _nats_errors()
        call_id = uuid.uuid4().hex
        inbox = self._nc.new_inbox()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        sub = await self._nc.subscribe(inbox, cb=queue.put)
        history = await thread.get_messages() if thread is not None else []
        subject = agent_subject(self.name, "run")
        finished = False
        try:
            payload = _dumps(
                {
                    "call_id": call_id,
                    "reply": inbox,
                    "messages": encode(as_messages(messages) if messages is not None else []),
                    "history": encode(history),
                    "options": options,
                }
            )
            try:
                ack = await self._nc.request(subject, payload, timeout=self.connect_timeout)
            except nats_errors.NoRespondersError:
                raise AgentUnavailableError(
                    f"no process hosts agent {self.name!r} (nobody listens on {subject!r}); "
                    f"start one with: async with serve_agent(agent, connection): ..."
                ) from None
            except nats_errors.TimeoutError:
                raise AgentUnavailableError(
                    f"agent {self.name!r} did not acknowledge the call on {subject!r} within "
                    f"{self.connect_timeout:g} s; is its host alive?"
                ) from None
            answer = json.loads(ack.data)
            if not answer.get("ok"):
                raise RemoteAgentError(str(answer.get("error") or answer))
            loop = asyncio.get_running_loop()
            deadline = None if self.timeout is None else loop.time() + self.timeout
            expected = 1
            while True:
                wait = self.idle_timeout
                if deadline is not None:
                    left = deadline - loop.time()
                    wait = left if wait is None else min(wait, left)
                try:
                    msg = (
                        await asyncio.wait_for(queue.get(), wait)
                        if wait is not None
                        else (await queue.get())
                    )
                except TimeoutError:
                    raise RemoteAgentError(
                        f"remote agent {self.name!r} sent nothing for {wait:g} s "
                        f"(timeout={self.timeout}, idle_timeout={self.idle_timeout}); the call "
                        f"was cancelled"
                    ) from None
                data = json.loads(msg.data)
                seq = data.get("seq")
                if seq != expected:
                    raise RemoteAgentError(
                        f"remote agent {self.name!r}: chunk {seq} arrived when {expected} was "
                        f"expected (a chunk was lost); retry the call"
                    )
                expected += 1
                if "error" in data:
                    finished = True
                    raise RemoteAgentError(f"remote agent {self.name!r}: {data['error']}")
                if data.get("done"):
                    finished = True
                    response = decode(data["response"])
                    if not isinstance(response, AgentResponse):
                        raise RemoteAgentError(
                            f"remote agent {self.name!r} sent a final answer that is not an "
                            f"AgentResponse: {type(response).__name__}"
                        )
                    if thread is not None:
                        await thread.add_messages(decode(data.get("new_messages") or []))
                        response.thread_id = thread.id
                    yield self._final(response)
                    return
                update = decode(data["update"])
                if isinstance(update, AgentRunUpdate):
                    yield update
        finally:
            if not finished:
                with contextlib.suppress(Exception):
                    await self._nc.publish(
                        agent_subject(self.name, "cancel"), _dumps({"call_id": call_id})
                    )
                    await self._nc.flush()
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def _final(self, response: AgentResponse) -> AgentRunUpdate:
        return AgentRunUpdate(
            agent_id=self.id,
            author_name=self.name,
            done=True,
            status=response.status,
            response=response,
        )


def _nats_errors() -> Any:
    from agentic_nb._optional import require

    return require("nats.errors", "nats")
