"""ConcurrentBuilder: the same input to every agent at once, answers gathered by an aggregator.

Example::

    >>> from agentic_nb.agents import ChatAgent
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> research = ChatAgent(ScriptedChatClient(["Market is growing."]), name="research")
    >>> legal = ChatAgent(ScriptedChatClient(["No blockers."]), name="legal")
    >>> out = ConcurrentBuilder([research, legal]).build().run_sync("Launch an eBike?").outputs[0]
    >>> [(m.author_name, m.text) for m in out.messages]
    [('research', 'Market is growing.'), ('legal', 'No blockers.')]
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentic_nb.agents import AgentResponse
from agentic_nb.llm import ChatMessage, Usage
from agentic_nb.workflow import (
    Executor,
    ExecutorKind,
    Workflow,
    WorkflowBuilder,
    WorkflowContext,
    handler,
    register_checkpoint_type,
)

from ._common import StartInput, Turn, call, check_participants, run_agent, start_turn, view_for


@register_checkpoint_type
@dataclass
class ParticipantResult:
    """What one concurrent participant produced: its response, or the error it raised.

    Example::

        >>> r = ParticipantResult("legal", None, error="TimeoutError: slow")
        >>> r.ok, r.text
        (False, '')
    """

    participant: str
    response: AgentResponse | None = None
    error: str = ""
    input: list[ChatMessage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.response is not None and not self.error

    @property
    def text(self) -> str:
        return self.response.text if self.response is not None else ""


Aggregator = Callable[[list[ParticipantResult]], Any]


class _Dispatch(Executor):
    kind = ExecutorKind.ORCHESTRATOR

    def __init__(self, name: str) -> None:
        super().__init__("dispatch")
        self.workflow_name = name

    @handler
    async def start(self, value: StartInput, ctx: WorkflowContext[Turn]) -> None:
        await ctx.send_message(start_turn(value, f"concurrent {self.workflow_name!r}"))


class _Worker(Executor):
    def __init__(self, agent: Any) -> None:
        super().__init__(agent.id)
        self.agent = agent

    @handler
    async def work(self, turn: Turn, ctx: WorkflowContext[ParticipantResult]) -> None:
        name = self.agent.name
        try:
            response = await run_agent(self.agent, view_for(name, turn.conversation), ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            await ctx.log("warning", f"participant {name!r} failed: {error}")
            await ctx.send_message(ParticipantResult(name, None, error, turn.conversation))
            return
        await ctx.send_message(ParticipantResult(name, response, "", turn.conversation))


class _Aggregate(Executor):
    def __init__(self, name: str, aggregator: Aggregator | Any | None) -> None:
        super().__init__("aggregator")
        self.workflow_name = name
        self.aggregator = aggregator

    @handler
    async def one(self, result: ParticipantResult, ctx: WorkflowContext[None, Any]) -> None:
        await self.many([result], ctx)

    @handler
    async def many(self, results: list[ParticipantResult], ctx: WorkflowContext[None, Any]) -> None:
        agg = self.aggregator
        if agg is None:
            await ctx.yield_output(self._default(results))
        elif hasattr(agg, "run_stream"):
            await ctx.yield_output(await run_agent(agg, self._synthesis_prompt(agg, results), ctx))
        else:
            await ctx.yield_output(await call(agg, results))

    def _default(self, results: list[ParticipantResult]) -> AgentResponse:
        failed = {r.participant: r.error for r in results if not r.ok}
        good = [r for r in results if r.ok]
        if not good:
            listed = "; ".join(f"{k}: {v}" for k, v in failed.items())
            raise RuntimeError(
                f"concurrent {self.workflow_name!r}: every participant failed ({listed})"
            )
        usage = Usage()
        messages: list[ChatMessage] = []
        for r in good:
            assert r.response is not None
            usage = usage + r.response.usage
            messages.append(ChatMessage.assistant(r.text, author_name=r.participant))
        return AgentResponse(
            messages=messages,
            agent_id=self.workflow_name,
            usage=usage,
            value=results,
            metadata={
                "pattern": "concurrent",
                "succeeded": [r.participant for r in good],
                "failed": failed,
            },
        )

    def _synthesis_prompt(self, agent: Any, results: list[ParticipantResult]) -> list[ChatMessage]:
        shared = view_for(agent.name, results[0].input) if results else []
        answers = [
            ChatMessage.user(r.text if r.ok else f"(failed: {r.error})", author_name=r.participant)
            for r in results
        ]
        return [*shared, *answers]


class ConcurrentBuilder:
    """Build a fan-out of one input to every agent, then a fan-in into an aggregator.

    Every participant gets the same input and runs in the same superstep. A
    participant that raises does not fail the run: it is reported as a
    :class:`ParticipantResult` with ``error`` set (and a warning ``Log`` event),
    and the others are kept. The aggregator decides what the run returns:

    * default: one :class:`AgentResponse` with each successful answer as a message
      (in participant order), ``value`` the list of :class:`ParticipantResult`,
      ``metadata["failed"]`` the failures; if *every* participant failed the run
      fails with an error listing them;
    * a callable ``fn(results) -> output`` (sync or async), e.g. to raise when too
      many failed;
    * an agent: it sees the input then each answer (or failure) as a message from
      that participant, and its response is the output (a synthesis).

    Example::

        >>> from agentic_nb.agents import ChatAgent
        >>> from agentic_nb.llm import ScriptedChatClient
        >>> a = ChatAgent(ScriptedChatClient(["A"]), name="a")
        >>> b = ChatAgent(ScriptedChatClient([RuntimeError("down")]), name="b")
        >>> wf = ConcurrentBuilder([a, b]).with_aggregator(
        ...     lambda rs: {r.participant: r.text or r.error for r in rs}).build()
        >>> wf.run_sync("go").outputs[0]["b"][:12]
        'ChatClientEr'
    """

    def __init__(self, participants: Sequence[Any], *, name: str = "concurrent") -> None:
        self.participants = check_participants(participants, f"ConcurrentBuilder {name!r}")
        self.name = name
        self._aggregator: Any = None

    def with_aggregator(self, aggregator: Aggregator | Any) -> ConcurrentBuilder:
        """Replace the default aggregator by a callable or an agent."""
        if not callable(aggregator) and not hasattr(aggregator, "run_stream"):
            raise TypeError(
                f"with_aggregator needs a callable(results) or an agent, got {aggregator!r}"
            )
        self._aggregator = aggregator
        return self

    def build(self, **builder_options: Any) -> Workflow:
        """The fan-out/fan-in as a normal :class:`Workflow`."""
        dispatch = _Dispatch(self.name)
        workers = [_Worker(a) for a in self.participants]
        ids = {w.id for w in workers}
        for reserved in ("dispatch", "aggregator"):
            if reserved in ids:
                raise ValueError(
                    f"ConcurrentBuilder {self.name!r}: participant id {reserved!r} is reserved "
                    f"for the pattern's own executor; rename that agent"
                )
        aggregate = _Aggregate(self.name, self._aggregator)
        builder = WorkflowBuilder(name=self.name, start=dispatch, **builder_options)
        builder.add_fan_out(dispatch, workers)
        if len(workers) == 1:
            builder.add_edge(workers[0], aggregate)
        else:
            builder.add_fan_in(workers, aggregate)
        return builder.build()
