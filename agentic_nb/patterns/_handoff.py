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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from agentic_nb.agents import AgentResponse, ChatAgent, FunctionTool
from agentic_nb.llm import ChatMessage
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
    call,
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


HANDOFF_MARKER = re.compile(r"^\s*HANDOFF:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


@register_checkpoint_type
@dataclass
class HandoffUserInput:
    """The ``request_info`` payload when an agent answered and the user may reply.

    Example::

        >>> HandoffUserInput("billing", "Which order?").agent
        'billing'
    """

    agent: str
    question: str
    handoffs: list[str] = field(default_factory=list)


@register_checkpoint_type
@dataclass
class UserReply:
    """The user's answer to a :class:`HandoffUserInput`: ``text`` goes back to the agent
    that asked; ``done=True`` (the approval card's Approve) ends the conversation.

    Example::

        >>> UserReply("order 42").done
        False
    """

    text: str = ""
    done: bool = False


@register_checkpoint_type
@dataclass
class _AskUser:
    turn: Turn


def _marker_prompt(targets: dict[str, Any]) -> str:
    lines = "\n".join(
        f"- {t.name}" + (f": {t.description}" if getattr(t, "description", "") else "")
        for t in targets.values()
    )
    return (
        "You may hand the conversation over to another agent. To do so, end your answer "
        f"with one line `HANDOFF: <name>`. You may hand over to:\n{lines}"
    )


class _Node(Executor):
    def __init__(self, agent: Any, routes: dict[str, Any], builder: HandoffBuilder) -> None:
        super().__init__(agent.id)
        self.routes = routes  # tool name -> target agent
        self.by_name = {t.name: t for t in routes.values()}
        self.uses_tools = isinstance(agent, ChatAgent)
        self.agent = (
            _with_tools(agent, [_handoff_tool(t) for t in routes.values()])
            if self.uses_tools
            else agent
        )
        self.workflow_name = builder.name
        self.max_handoffs = builder._max_handoffs
        self.ask_user = builder._ask_user
        self.max_user_turns = builder._max_user_turns
        self.termination = builder._termination

    @handler
    async def start(
        self, value: StartInput, ctx: WorkflowContext[Turn | _AskUser, AgentResponse]
    ) -> None:
        await self.take_over(start_turn(value, f"handoff {self.workflow_name!r}"), ctx)

    async def _decide(self, response: AgentResponse) -> tuple[Any, str, AgentResponse]:
        """(target agent or None, reason, the response as the others should see it)."""
        decide = getattr(self.agent, "decide_handoff", None)
        if decide is not None:
            picked = await call(decide, response)
            if picked is None:
                return None, "", response
            name = picked if isinstance(picked, str) else getattr(picked, "name", picked)
            if name not in self.by_name:
                raise ValueError(
                    f"handoff {self.workflow_name!r}: {self.agent.name!r}.decide_handoff "
                    f"returned {picked!r}, which it may not hand off to (targets: "
                    f"{sorted(self.by_name)})"
                )
            return self.by_name[name], "", response
        call_ = next((c for c in response.tool_calls if c.name in self.routes), None)
        if call_ is not None:
            return self.routes[call_.name], str(call_.arguments.get("reason", "")), response
        if self.uses_tools:
            return None, "", response
        found = HANDOFF_MARKER.findall(response.text)
        if not found:
            return None, "", response
        wanted = found[-1].strip().strip("`'\".")
        target = self.by_name.get(wanted) or next(
            (t for n, t in self.by_name.items() if n.lower() == wanted.lower()), None
        )
        if target is None:
            raise ValueError(
                f"handoff {self.workflow_name!r}: {self.agent.name!r} asked to hand off to "
                f"{wanted!r}, which it may not hand off to (targets: {sorted(self.by_name)})"
            )
        cleaned = [
            ChatMessage(m.role, HANDOFF_MARKER.sub("", m.text).strip(), author_name=m.author_name)
            if m.role == "assistant" and m.text
            else m
            for m in response.messages
        ]
        return target, "", replace(response, messages=cleaned)

    @handler
    async def take_over(
        self, turn: Turn, ctx: WorkflowContext[Turn | _AskUser, AgentResponse]
    ) -> None:
        name = self.agent.name
        messages = view_for(name, turn.conversation)
        if not self.uses_tools and self.by_name and not hasattr(self.agent, "decide_handoff"):
            messages = [ChatMessage.system(_marker_prompt(self.by_name)), *messages]
        response = await run_agent(self.agent, messages, ctx)
        target, reason, response = await self._decide(response)
        conversation = [*turn.conversation, *visible(response, name)]
        nxt = replace(turn, conversation=conversation, usage=turn.usage + response.usage)
        if target is None:
            await self._answered(nxt, ctx)
            return
        if turn.round >= self.max_handoffs:
            await ctx.log(
                "warning",
                f"{name!r} asked to hand off to {target.name!r} but the run "
                f"already made {turn.round} handoffs (max_handoffs={self.max_handoffs})",
            )
            await ctx.yield_output(self._done(nxt, "max_handoffs"))
            return
        await ctx.add_event(Handoff(name, target.name, reason))
        nxt.round += 1
        nxt.trail = [*turn.trail, f"{name}->{target.name}"]
        await ctx.send_message(nxt, target=target.id)

    async def _answered(self, turn: Turn, ctx: WorkflowContext[Any, Any]) -> None:
        """The agent answered without handing off: done, or the user's turn."""
        if not self.ask_user:
            await ctx.yield_output(self._done(turn, "answered"))
            return
        if self.termination is not None and await call(self.termination, list(turn.conversation)):
            await ctx.yield_output(self._done(turn, "termination"))
            return
        if _user_turns(turn) >= self.max_user_turns:
            await ctx.log("warning", f"handoff stopped after max_user_turns={self.max_user_turns}")
            await ctx.yield_output(self._done(turn, "max_user_turns"))
            return
        await ctx.send_message(_AskUser(turn), target=self.id)

    @handler
    async def ask(
        self, request: _AskUser, ctx: WorkflowContext[Turn | _AskUser, AgentResponse]
    ) -> None:
        # Nothing before request_info: this handler re-runs from its start on resume.
        turn = request.turn
        last = turn.added[-1].text if turn.added else ""
        reply = await ctx.request_info(
            HandoffUserInput(self.agent.name, last, list(turn.trail)), response_type=UserReply
        )
        if reply.done or not reply.text.strip():
            await ctx.yield_output(self._done(turn, "user_done"))
            return
        turn.conversation.append(ChatMessage.user(reply.text))
        await self.take_over(turn, ctx)

    def _done(self, turn: Turn, reason: str) -> AgentResponse:
        return final_response(turn, self.workflow_name, "handoff", reason, handoffs=turn.trail)


def _user_turns(turn: Turn) -> int:
    return sum(1 for m in turn.added if m.role == "user")


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
    A ``ChatAgent`` is copied with the extra tools (the original is left
    unchanged). Any other agent (``run_stream`` + ``name``) decides in one of two
    ways: a ``decide_handoff(response) -> target name | None`` method (sync or
    async; the specification's ``HandoffCapable``), or else a system message
    tells it to end its answer with a line ``HANDOFF: <name>`` (removed from the
    shared conversation). A participant that raises fails the run.

    With :meth:`with_user_input` an answer without a handoff is not the end: the
    user is asked (``request_info``) and the conversation goes on with that agent.

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
        self.name = name
        self._routes: dict[str, list[str]] = {}
        self._start: str = self.participants[0].name
        self._max_handoffs = 10
        self._ask_user = False
        self._max_user_turns = 10
        self._termination: Callable[[list[ChatMessage]], Any] | None = None

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

    def with_user_input(
        self,
        enabled: bool = True,
        *,
        termination: Callable[[list[ChatMessage]], Any] | None = None,
        max_turns: int = 10,
    ) -> HandoffBuilder:
        """When an agent answers without handing off, ask the user (``request_info``)
        instead of ending: the run waits with a :class:`HandoffUserInput` request; a
        :class:`UserReply` with text goes back to that agent, which carries on (and may
        hand off); ``UserReply(done=True)`` or an empty text ends the run
        (``stop_reason="user_done"``). ``termination(conversation)`` (sync or async),
        checked after each answer, ends the run without asking (``"termination"``);
        after ``max_turns`` user replies it ends with ``"max_user_turns"``."""
        if termination is not None and not callable(termination):
            raise TypeError(f"with_user_input: termination must be callable, got {termination!r}")
        if not isinstance(max_turns, int) or max_turns < 1:
            raise ValueError(f"with_user_input: max_turns must be an int >= 1, got {max_turns!r}")
        self._ask_user = bool(enabled)
        self._termination = termination
        self._max_user_turns = max_turns
        return self

    def build(self, **builder_options: Any) -> Workflow:
        """The handoff mesh as a normal :class:`Workflow`."""
        by_name = {a.name: a for a in self.participants}
        routes = self._routes or {
            a: [b for b in by_name if b != a] for a in by_name if len(by_name) > 1
        }
        nodes = {
            n: _Node(a, {handoff_tool_name(t): by_name[t] for t in routes.get(n, [])}, self)
            for n, a in by_name.items()
        }
        builder = WorkflowBuilder(name=self.name, start=nodes[self._start], **builder_options)
        for n in by_name:
            builder.add_executor(nodes[n])
            if self._ask_user:
                builder.add_edge(nodes[n], nodes[n])
        for src, targets in routes.items():
            for t in targets:
                builder.add_edge(nodes[src], nodes[t])
        return builder.build()
