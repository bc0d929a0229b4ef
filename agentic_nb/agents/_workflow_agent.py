"""Workflows as agents (``wf.as_agent(name)``) and WorkflowAgent (answer or delegate).

Example::

    >>> import asyncio
    >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
    >>> @executor
    ... def shout(text: str, ctx: WorkflowContext[None, str]) -> None:
    ...     ctx.yield_output(text.upper())
    >>> agent = WorkflowBuilder(name="shouter", start=shout).build().as_agent("Shouter")
    >>> asyncio.run(agent.run("hello")).text
    'HELLO'
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from agentic_nb.llm import (
    ChatClient,
    ChatMessage,
    DataContent,
    Usage,
    as_messages,
)
from agentic_nb.workflow import Output, RequestInfo, WorkflowResult
from agentic_nb.workflow.typing import type_name

from ._base import BaseAgent
from ._chat_agent import ChatAgent
from ._thread import AgentThread
from ._tools import FunctionTool
from ._types import (
    COMPLETED,
    WAITING,
    AgentRequest,
    AgentResponse,
    AgentRunUpdate,
    AgentUsage,
)

if TYPE_CHECKING:
    from agentic_nb.workflow import Run, Workflow


def workflow_as_agent(workflow: Workflow, name: str | None = None) -> WorkflowAsAgent:
    """Expose ``workflow`` through the Agent protocol (what ``wf.as_agent`` returns).

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def echo(text: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(text)
        >>> workflow_as_agent(WorkflowBuilder(name="e", start=echo).build()).name
        'e'
    """
    return WorkflowAsAgent(workflow, name=name)


class WorkflowAsAgent(BaseAgent):
    """A workflow behind the Agent protocol.

    The input given to the workflow is what its start executor accepts: the
    conversation (``list[ChatMessage]``), the last ``ChatMessage``, or the last
    user text. Outputs become assistant messages (``AgentResponse`` outputs keep
    their own messages). While the workflow runs, ``run_stream`` forwards inner
    agents' token chunks and each output. When the workflow waits for input the
    response has ``status="waiting"`` and ``pending_requests``; answer with
    ``await agent.respond(request_id, value)``, which continues the same run.

    Example::

        >>> import asyncio
        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def size(text: str, ctx: WorkflowContext[None, int]) -> None:
        ...     ctx.yield_output(len(text))
        >>> a = WorkflowAsAgent(WorkflowBuilder(name="len", start=size).build())
        >>> asyncio.run(a.run("four")).value
        4
    """

    def __init__(
        self, workflow: Workflow, *, name: str | None = None, description: str = ""
    ) -> None:
        super().__init__(
            name=name or workflow.name, description=description or workflow.description
        )
        self.workflow = workflow
        self._waiting: dict[str, tuple[Run, AgentThread | None, int]] = {}

    @property
    def tools(self) -> Sequence[FunctionTool]:
        return ()

    @property
    def waiting_requests(self) -> list[str]:
        """Ids of requests still waiting for :meth:`respond`."""
        return list(self._waiting)

    def _input_for(self, conversation: list[ChatMessage]) -> Any:
        start = self.workflow.executor(self.workflow.start_executor_id)
        last = conversation[-1] if conversation else ChatMessage.user("")
        last_user = next((m for m in reversed(conversation) if m.role == "user"), last)
        for candidate in (conversation, last, last_user.text):
            if start.find_handler(candidate) is not None:
                return candidate
        accepted = ", ".join(h.input_name for h in start.handlers)
        raise TypeError(
            f"workflow agent {self.name!r}: start executor {start.id!r} accepts {accepted}; "
            f"give the workflow a start executor that accepts str, ChatMessage or "
            f"list[ChatMessage]"
        )

    async def _updates(
        self,
        messages: Any,
        *,
        thread: AgentThread | None,
        stream: bool,
        **options: Any,
    ) -> AsyncIterator[AgentRunUpdate]:
        new = as_messages(messages, where=f"workflow agent {self.name!r}")
        history = await thread.get_messages() if thread is not None else []
        run = self.workflow.start(self._input_for([*history, *new]))
        async for update in self._drive(run, thread, new, stream, 0):
            yield update

    async def _drive(
        self,
        run: Run,
        thread: AgentThread | None,
        new: list[ChatMessage],
        stream: bool,
        seen_outputs: int,
    ) -> AsyncIterator[AgentRunUpdate]:
        if stream:
            async for ev in run.stream():
                if isinstance(ev, AgentRunUpdate):
                    if ev.done:
                        continue
                    yield AgentRunUpdate(
                        agent_id=self.id,
                        author_name=ev.author_name or ev.executor_id,
                        role=ev.role,
                        text=ev.text,
                        tool_call=ev.tool_call,
                        tool_result=ev.tool_result,
                        data=ev.data,
                    )
                elif isinstance(ev, Output):
                    is_agent = isinstance(ev.data, AgentResponse)
                    yield AgentRunUpdate(
                        agent_id=self.id,
                        author_name=ev.executor_id,
                        text="" if is_agent else output_text(ev.data),
                        data=ev.data,
                    )
                elif isinstance(ev, RequestInfo):
                    yield AgentRunUpdate(
                        agent_id=self.id,
                        author_name=ev.executor_id,
                        role="request",
                        data=ev.request,
                    )
            result = run.result()
        else:
            result = await run.until_idle()
        response = self._response(result, thread, seen_outputs)
        if thread is not None:
            await thread.add_messages([*new, *response.messages])
        if response.status == WAITING:
            outputs = len(result.events.of_type(Output))
            for req in response.pending_requests:
                self._waiting[req.request_id] = (run, thread, outputs)
        yield AgentRunUpdate(
            agent_id=self.id,
            author_name=self.name,
            done=True,
            response=response,
            usage=response.usage,
            status=response.status,
        )

    def _response(
        self, result: WorkflowResult, thread: AgentThread | None, seen_outputs: int
    ) -> AgentResponse:
        if result.status not in ("completed", "waiting"):
            from agentic_nb.workflow import WorkflowError

            raise WorkflowError(
                f"workflow agent {self.name!r}: workflow {self.workflow.name!r} ended "
                f"{result.status}: {result.error or '; '.join(result.diagnostics)}"
            )
        messages: list[ChatMessage] = []
        value: Any = None
        plain_values: list[Any] = []
        for ev in result.events.of_type(Output)[seen_outputs:]:
            out = ev.data
            if isinstance(out, AgentResponse):
                messages.extend(m for m in out.messages)
                if out.value is not None:
                    plain_values.append(out.value)
            else:
                author = ev.executor_id or self.name
                if isinstance(out, str):
                    messages.append(ChatMessage.assistant(out, author_name=author))
                else:
                    plain_values.append(out)
                    messages.append(
                        ChatMessage(
                            "assistant",
                            output_text(out),
                            contents=[DataContent(_jsonable(out))],
                            author_name=author,
                        )
                    )
        if len(plain_values) == 1:
            value = plain_values[0]
        usage = Usage()
        for u in result.events.of_type(AgentUsage):
            usage = usage + Usage(u.input_tokens, u.output_tokens, u.total_tokens)
        pending = []
        for req in result.pending_requests:
            ar = AgentRequest(
                req.request_id, req.executor_id, req.request, type_name(req.response_type)
            )
            ar.response_type = req.response_type
            pending.append(ar)
        status = WAITING if result.status == "waiting" else COMPLETED
        detail = ""
        if pending:
            detail = (
                f"workflow {self.workflow.name!r} waits for {len(pending)} answer(s): call "
                f"await agent.respond(request_id, value)"
            )
        return AgentResponse(
            messages=messages,
            agent_id=self.id,
            usage=usage,
            value=value,
            status=status,
            status_detail=detail,
            pending_requests=pending,
            thread_id=thread.id if thread is not None else None,
            metadata={"run_id": result.run_id, "supersteps": result.supersteps},
        )

    async def respond(self, request_id: str, value: Any) -> AgentResponse:
        """Answer a pending request of an earlier ``run`` and continue that workflow run.

        Returns the response of the continued run (it may wait again).
        """
        entry = self._waiting.pop(request_id, None)
        if entry is None:
            known = list(self._waiting) or "none"
            raise KeyError(
                f"workflow agent {self.name!r} has no pending request {request_id!r} "
                f"(pending: {known})"
            )
        run, thread, seen = entry
        for other, (r, _t, _s) in list(self._waiting.items()):
            if r is run:
                del self._waiting[other]
        run.answer(request_id, value)
        final: AgentResponse | None = None
        async for update in self._drive(run, thread, [], False, seen):
            final = update.response
        assert final is not None
        return final


def output_text(value: Any) -> str:
    """Text shown for a workflow output (``str`` as is, data as JSON).

    Example::

        >>> output_text({"a": 1}), output_text("hi")
        ('{"a": 1}', 'hi')
    """
    if isinstance(value, str):
        return value
    text = getattr(value, "text", None)
    if isinstance(text, str):
        return text
    try:
        return json.dumps(_jsonable(value), ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    return value


Decider = Callable[[list[ChatMessage]], "bool | Awaitable[bool]"]

_ROUTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "delegate": {"type": "boolean"},
        "reason": {"type": "string"},
    },
    "required": ["delegate", "reason"],
}


class WorkflowAgent(BaseAgent):
    """An agent that, per message, answers itself or delegates to its workflow.

    The choice is made by ``decide(conversation) -> bool`` (sync or async; ``True``
    delegates) when given, otherwise by the model through structured output
    (``{"delegate": bool, "reason": str}``) with a prompt describing the
    workflow. ``response.metadata["route"]`` is ``"workflow"`` or ``"self"`` and
    ``metadata["reason"]`` says why.

    Example::

        >>> import asyncio
        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> from agentic_nb.llm import ScriptedChatClient
        >>> @executor
        ... def build(text: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(f"built: {text}")
        >>> wf = WorkflowBuilder(name="builder", start=build).build()
        >>> agent = WorkflowAgent(ScriptedChatClient(["hello!"]), wf, name="helper",
        ...                       decide=lambda msgs: msgs[-1].text.startswith("/build"))
        >>> asyncio.run(agent.run("/build a house")).text
        'built: /build a house'
        >>> asyncio.run(agent.run("hi")).text
        'hello!'
    """

    def __init__(
        self,
        client: ChatClient,
        workflow: Workflow,
        *,
        instructions: str = "You are a helpful assistant.",
        name: str | None = None,
        id: str | None = None,
        description: str = "",
        decide: Decider | None = None,
        max_tokens: int | None = None,
    ) -> None:
        super().__init__(name=name, id=id, description=description)
        self.client = client
        self.workflow = workflow
        self.decide = decide
        self.instructions = instructions
        self.max_tokens = max_tokens
        self._workflow_agent = WorkflowAsAgent(workflow, name=f"{self.name}.{workflow.name}")
        self._chat = ChatAgent(
            client, instructions, name=self.name, id=self.id, max_tokens=max_tokens
        )

    async def route(self, conversation: list[ChatMessage]) -> tuple[bool, str]:
        """Decide: ``(delegate, reason)``."""
        if self.decide is not None:
            verdict = self.decide(conversation)
            if inspect.isawaitable(verdict):
                verdict = await verdict
            return bool(verdict), f"decided by {getattr(self.decide, '__name__', 'function')}"
        about = (
            self.workflow.description or self.description or f"the {self.workflow.name!r} workflow"
        )
        prompt = [
            ChatMessage.system(
                "You route requests. A workflow is available: "
                f"{self.workflow.name!r} — {about}. Answer with JSON: delegate=true when the "
                "latest request needs that workflow, delegate=false when a direct answer is "
                "enough, and a short reason."
            ),
            *[m for m in conversation if m.role in ("user", "assistant") and m.text][-6:],
        ]
        response = await self.client.get_response(
            prompt, response_format=_ROUTE_SCHEMA, max_tokens=self.max_tokens or 64
        )
        data = response.value if isinstance(response.value, dict) else {}
        return bool(data.get("delegate")), str(data.get("reason", ""))

    async def _updates(
        self,
        messages: Any,
        *,
        thread: AgentThread | None,
        stream: bool,
        **options: Any,
    ) -> AsyncIterator[AgentRunUpdate]:
        new = as_messages(messages, where=f"agent {self.name!r}")
        if thread is None:
            thread = AgentThread(agent_id=self.id)
        history = await thread.get_messages()
        delegate, reason = await self.route([*history, *new])
        target: BaseAgent = self._workflow_agent if delegate else self._chat
        async for update in target._updates(new, thread=thread, stream=stream, **options):
            if update.done and update.response is not None:
                update.response.metadata.update(
                    route="workflow" if delegate else "self", reason=reason
                )
                update.response.agent_id = self.id
                update.agent_id = self.id
            yield update

    async def respond(self, request_id: str, value: Any) -> AgentResponse:
        """Answer a request of a delegated workflow run (see :class:`WorkflowAsAgent`)."""
        return await self._workflow_agent.respond(request_id, value)
