"""HandoffBuilder: agents pass control to each other with generated handoff tools.

Example::

    >>> from agentic_nb.agents import ChatAgent
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> triage = ChatAgent(ScriptedChatClient([
    ...     ScriptedChatClient.calls(("handoff_to_billing", {"reason": "refund"})),
    ...     "Passing you to billing."]), name="triage")
    >>> billing = ChatAgent(ScriptedChatClient(["Refund issued."]), name="billing")
    >>> wf = HandoffBuilder([triage, billing]).add_handoff(triage, [billing]).build()
    >>> out = wf.run_sync("I want my money back").outputs[0]
    >>> out.text, out.metadata["handoffs"]
    ('Refund issued.', ['triage->billing'])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentic_nb.agents import AgentResponse, ChatAgent, FunctionTool
from agentic_nb.workflow import (
    Executor,
    Workflow,
    WorkflowBuilder,
    WorkflowContext,
    handler,
    register_checkpoint_type,
)

from ._common import (
    StartInput,
    Turn,
    check_participants,
    final_response,
    run_agent,
    start_turn,
    view_for,
    visible,
)


@register_checkpoint_type
@dataclass
class Handoff:
    """Emitted (as a ``Custom`` event) when an agent hands the conversation over.

    Example::

        >>> Handoff("triage", "billing", "refund").target
        'billing'
    """

    source: str
    target: str
    reason: str = ""


def handoff_tool_name(target_name: str) -> str:
    """The name of the tool an agent calls to hand over to ``target_name``.

    Example::

        >>> handoff_tool_name("Billing Team")
        'handoff_to_Billing_Team'
    """
    return ("handoff_to_" + re.sub(r"[^A-Za-z0-9_-]+", "_", target_name))[:64]


def _handoff_tool(target: Any) -> FunctionTool:
    name = target.name

    def handoff(reason: str = "") -> str:
        return f"Handing the conversation over to {name}."

    desc = getattr(target, "description", "") or ""
    return FunctionTool(
        handoff,
        name=handoff_tool_name(name),
        description=f"Hand the conversation over to {name}" + (f": {desc}" if desc else "."),
    )


def _with_tools(agent: ChatAgent, extra: list[FunctionTool]) -> ChatAgent:
    """A copy of ``agent`` with the same settings plus ``extra`` tools."""
    return ChatAgent(
        agent.client,
        agent.instructions,
        name=agent.name,
        id=agent.id,
        description=agent.description,
        tools=[*agent.tools, *extra],
        response_format=agent.response_format,
        memory=agent.memory,
        reducer=agent.reducer,
        max_tool_rounds=agent.max_tool_rounds,
        tool_choice=agent.tool_choice,
        max_tokens=agent.max_tokens,
        temperature=agent.temperature,
        message_store=agent.message_store,
    )


class _Node(Executor):
    def __init__(
        self, agent: ChatAgent, routes: dict[str, Any], name: str, max_handoffs: int
    ) -> None:
        super().__init__(agent.id)
        self.routes = routes  # tool name -> target agent
        self.agent = _with_tools(agent, [_handoff_tool(t) for t in routes.values()])
        self.workflow_name = name
        self.max_handoffs = max_handoffs

    @handler
    async def start(self, value: StartInput, ctx: WorkflowContext[Turn, AgentResponse]) -> None:
        await self.take_over(start_turn(value, f"handoff {self.workflow_name!r}"), ctx)

    @handler
    async def take_over(self, turn: Turn, ctx: WorkflowContext[Turn, AgentResponse]) -> None:
        name = self.agent.name
        response = await run_agent(self.agent, view_for(name, turn.conversation), ctx)
        conversation = [*turn.conversation, *visible(response, name)]
        nxt = Turn(conversation, turn.start, turn.round, turn.usage + response.usage, turn.trail)
        call = next((c for c in response.tool_calls if c.name in self.routes), None)
        if call is None:
            await ctx.yield_output(self._done(nxt, "answered"))
            return
        if turn.round >= self.max_handoffs:
            await ctx.log(
                "warning",
                f"{name!r} asked to hand off to {self.routes[call.name].name!r} but the run "
                f"already made {turn.round} handoffs (max_handoffs={self.max_handoffs})",
            )
            await ctx.yield_output(self._done(nxt, "max_handoffs"))
            return
        target = self.routes[call.name]
        reason = str(call.arguments.get("reason", ""))
        await ctx.add_event(Handoff(name, target.name, reason))
        nxt.round += 1
        nxt.trail = [*turn.trail, f"{name}->{target.name}"]
        await ctx.send_message(nxt, target=target.id)

    def _done(self, turn: Turn, reason: str) -> AgentResponse:
        return final_response(turn, self.workflow_name, "handoff", reason, handoffs=turn.trail)


class HandoffBuilder:
    """Build a mesh of agents that hand the conversation to one another (no manager).

    Each agent gets one generated tool per agent it may hand off to,
    ``handoff_to_<name>(reason)``. When an agent's run calls one, the whole
    conversation goes to that agent, which carries on; the run ends when an agent
    answers without handing off, or when ``max_handoffs`` (default 10) handoffs
    were made (``metadata["stop_reason"]`` is ``"answered"`` or
    ``"max_handoffs"``; ``metadata["handoffs"]`` lists ``"a->b"`` in order).
    Each handoff is also a ``Custom`` event carrying a :class:`Handoff`. The
    handoff tool runs inside the agent's normal tool loop, so after calling it
    the model is asked once more and may add a line ("Passing you to billing."),
    which stays in the conversation.

    Without :meth:`add_handoff` every agent may hand off to every other one. The
    first participant receives the input unless :meth:`with_start` says otherwise.
    Participants must be ``ChatAgent`` instances (they are copied with the extra
    tools; the originals are left unchanged). A participant that raises fails
    the run.

    Example::

        >>> from agentic_nb.agents import ChatAgent
        >>> from agentic_nb.llm import ScriptedChatClient
        >>> a = ChatAgent(ScriptedChatClient(["I can answer that."]), name="a")
        >>> b = ChatAgent(ScriptedChatClient([]), name="b")
        >>> HandoffBuilder([a, b]).build().run_sync("hi").outputs[0].metadata["stop_reason"]
        'answered'
    """

    def __init__(self, participants: Sequence[Any], *, name: str = "handoff") -> None:
        self.participants = check_participants(participants, f"HandoffBuilder {name!r}")
        for a in self.participants:
            if not isinstance(a, ChatAgent):
                raise TypeError(
                    f"HandoffBuilder {name!r}: participant {a.name!r} is a "
                    f"{type(a).__name__}; handoffs are tools, so participants must be "
                    f"ChatAgent instances"
                )
        self.name = name
        self._routes: dict[str, list[str]] = {}
        self._start: str = self.participants[0].name
        self._max_handoffs = 10

    def _name(self, ref: Any) -> str:
        names = [a.name for a in self.participants]
        n = ref if isinstance(ref, str) else getattr(ref, "name", None)
        if n not in names:
            raise ValueError(
                f"HandoffBuilder {self.name!r}: {ref!r} is not a participant "
                f"(participants: {names})"
            )
        return str(n)

    def add_handoff(self, source: Any, targets: Sequence[Any]) -> HandoffBuilder:
        """Let ``source`` hand off to each of ``targets`` (agents or their names)."""
        src = self._name(source)
        for t in targets:
            tgt = self._name(t)
            if tgt == src:
                raise ValueError(f"HandoffBuilder {self.name!r}: {src!r} cannot hand off to itself")
            if tgt not in self._routes.setdefault(src, []):
                self._routes[src].append(tgt)
        return self

    def with_start(self, agent: Any) -> HandoffBuilder:
        """The agent that receives the run's input (default: the first participant)."""
        self._start = self._name(agent)
        return self

    def with_max_handoffs(self, n: int) -> HandoffBuilder:
        """Stop after ``n`` handoffs (the last agent's answer is the output)."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"with_max_handoffs needs an int >= 0, got {n!r}")
        self._max_handoffs = n
        return self

    def build(self, **builder_options: Any) -> Workflow:
        """The handoff mesh as a normal :class:`Workflow`."""
        by_name = {a.name: a for a in self.participants}
        routes = self._routes or {
            a: [b for b in by_name if b != a] for a in by_name if len(by_name) > 1
        }
        nodes = {
            n: _Node(
                a,
                {handoff_tool_name(t): by_name[t] for t in routes.get(n, [])},
                self.name,
                self._max_handoffs,
            )
            for n, a in by_name.items()
        }
        builder = WorkflowBuilder(name=self.name, start=nodes[self._start], **builder_options)
        for n in by_name:
            builder.add_executor(nodes[n])
        for src, targets in routes.items():
            for t in targets:
                builder.add_edge(nodes[src], nodes[t])
        return builder.build()
