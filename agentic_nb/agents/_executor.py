"""AgentExecutor: any agent as a workflow node (the builder wraps agents automatically).

Example::

    >>> from agentic_nb import WorkflowBuilder
    >>> from agentic_nb.agents import ChatAgent
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> writer = ChatAgent(ScriptedChatClient(["A poem."]), name="writer")
    >>> reviewer = ChatAgent(ScriptedChatClient(["Nice."]), name="reviewer")
    >>> wf = WorkflowBuilder(start=writer).add_edge(writer, reviewer).build()
    >>> wf.run_sync("Write a poem").outputs[0].text
    'Nice.'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentic_nb.llm import ChatMessage
from agentic_nb.workflow import (
    Executor,
    ExecutorKind,
    WorkflowContext,
    handler,
    register_checkpoint_type,
)

from ._types import WAITING, AgentResponse, AgentUsage


@register_checkpoint_type
@dataclass
class AgentExecutorResponse:
    """What an :class:`AgentExecutor` sends along its edges.

    Example::

        >>> AgentExecutorResponse("writer", AgentResponse()).executor_id
        'writer'
    """

    executor_id: str
    agent_response: AgentResponse
    full_conversation: list[ChatMessage] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.agent_response.text


class AgentExecutor(Executor):
    """Runs an agent on each message it receives and streams its tokens as events.

    Accepts ``str``, ``ChatMessage``, ``list[ChatMessage]``, the
    :class:`AgentExecutorResponse` of a previous agent (whose conversation is
    continued: other agents' answers are shown to this one as user messages with
    their ``author_name``; their internal tool traffic is left out), or a
    ``list[AgentExecutorResponse]`` from a fan-in (the shared conversation, then
    every agent's answer in source order). Emits
    ``AgentRunUpdate`` events while the agent streams and one ``AgentUsage`` event
    per invocation, then sends an :class:`AgentExecutorResponse`.

    ``output_response``: ``True`` yields the :class:`AgentResponse` as a workflow
    output, ``False`` sends the message on; ``None`` (default) yields when this
    executor has no outgoing edge and sends otherwise. Requests raised inside the
    agent (a workflow agent waiting for input) surface as requests of the
    enclosing run.

    Example::

        >>> from agentic_nb.agents import ChatAgent
        >>> from agentic_nb.llm import ScriptedChatClient
        >>> AgentExecutor(ChatAgent(ScriptedChatClient(), name="bot")).id
        'bot'
    """

    kind = ExecutorKind.WORKER

    def __init__(
        self,
        agent: Any,
        id: str | None = None,
        *,
        output_response: bool | None = None,
        stream: bool = True,
        **executor_options: Any,
    ) -> None:
        if not hasattr(agent, "run") or not hasattr(agent, "run_stream"):
            raise TypeError(
                f"AgentExecutor needs an agent (with run and run_stream), got {agent!r}"
            )
        super().__init__(id if id is not None else agent.id, **executor_options)
        self.agent = agent
        self.output_response = output_response
        self.stream = stream

    @handler
    async def from_text(
        self, text: str, ctx: WorkflowContext[AgentExecutorResponse, AgentResponse]
    ) -> None:
        await self._run([ChatMessage.user(text)], ctx)

    @handler
    async def from_message(
        self, message: ChatMessage, ctx: WorkflowContext[AgentExecutorResponse, AgentResponse]
    ) -> None:
        await self._run([message], ctx)

    @handler
    async def from_messages(
        self,
        messages: list[ChatMessage],
        ctx: WorkflowContext[AgentExecutorResponse, AgentResponse],
    ) -> None:
        await self._run(list(messages), ctx)

    @handler
    async def from_response(
        self,
        previous: AgentExecutorResponse,
        ctx: WorkflowContext[AgentExecutorResponse, AgentResponse],
    ) -> None:
        await self._run(self._continue(previous.full_conversation), ctx)

    @handler
    async def from_responses(
        self,
        previous: list[AgentExecutorResponse],
        ctx: WorkflowContext[AgentExecutorResponse, AgentResponse],
    ) -> None:
        """A fan-in of several agents: the shared conversation, then each one's answer."""
        if not previous:
            raise ValueError(f"executor {self.id!r} received an empty list of agent responses")
        first = previous[0]
        shared = first.full_conversation[
            : max(0, len(first.full_conversation) - len(first.agent_response.messages))
        ]
        merged = [*shared, *(m for p in previous for m in p.agent_response.messages)]
        await self._run(self._continue(merged), ctx)

    def _continue(self, conversation: list[ChatMessage]) -> list[ChatMessage]:
        own = self.agent.name
        out: list[ChatMessage] = []
        for m in conversation:
            if m.role == "system" or m.role == "tool":
                continue
            if m.role == "assistant" and m.author_name != own:
                if not m.text:
                    continue  # another agent's tool-call request: internal to that agent
                out.append(ChatMessage("user", m.text, author_name=m.author_name))
            elif m.role == "assistant" and not m.text:
                continue
            else:
                out.append(m)
        return out

    async def _run(
        self,
        messages: list[ChatMessage],
        ctx: WorkflowContext[AgentExecutorResponse, AgentResponse],
    ) -> None:
        response = await self._invoke(messages, ctx)
        # A workflow agent may wait for input: surface its requests on this run. The
        # engine replays this handler after each answer (recorded answers return at
        # once), so the agent is run again and fed the same answers in order.
        while response.status == WAITING and response.pending_requests:
            respond = getattr(self.agent, "respond", None)
            if respond is None:
                break
            for req in list(response.pending_requests):
                answer = await ctx.request_info(req.request, response_type=req.response_type)
                response = await respond(req.request_id, answer)
        usage = response.usage
        await ctx.add_event(
            AgentUsage(
                agent_id=self.agent.id,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                total_tokens=usage.total_tokens,
                model=response.metadata.get("model"),
                model_calls=response.metadata.get("model_calls", 0),
            )
        )
        out = AgentExecutorResponse(self.id, response, [*messages, *response.messages])
        if self._yields(ctx):
            await ctx.yield_output(response)
        else:
            await ctx.send_message(out)

    async def _invoke(
        self, messages: list[ChatMessage], ctx: WorkflowContext[Any, Any]
    ) -> AgentResponse:
        if not self.stream:
            response: AgentResponse = await self.agent.run(messages)
            return response
        final: AgentResponse | None = None
        async for update in self.agent.run_stream(messages):
            if getattr(update, "done", False):
                final = update.response
            await ctx.add_event(update)
        if final is None:
            raise RuntimeError(
                f"agent {self.agent.name!r} in executor {self.id!r} ended its stream without "
                f"a final update (done=True with a response)"
            )
        return final

    def _yields(self, ctx: WorkflowContext[Any, Any]) -> bool:
        if self.output_response is not None:
            return self.output_response
        return not ctx.targets
