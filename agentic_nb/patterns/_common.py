"""What every pattern shares: participant checks, conversation views, running an agent.

The patterns keep no per-run state on executor objects (a ``Workflow`` may run
many times at once): the shared conversation travels inside the messages, as a
:class:`Turn`, so it is also part of every checkpoint.

Example::

    >>> from agentic_nb.llm import ChatMessage
    >>> convo = [ChatMessage.user("hi"), ChatMessage.assistant("hello", author_name="a")]
    >>> [(m.role, m.author_name) for m in view_for("b", convo)]
    [('user', None), ('user', 'a')]
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agentic_nb.agents import AgentResponse, AgentUsage
from agentic_nb.llm import ChatMessage, Usage, as_messages
from agentic_nb.workflow import WorkflowContext, register_checkpoint_type

#: What the start executor of every pattern accepts.
StartInput = str | ChatMessage | list[ChatMessage]


@register_checkpoint_type
@dataclass
class Turn:
    """The shared conversation as it travels between a pattern's executors.

    ``start`` is where the run's input ends (what came later was added by the
    participants); ``round`` counts participant turns (handoffs in a handoff mesh); ``usage``
    sums tokens; ``trail`` records the path taken (e.g. ``"a->b"`` handoffs, or the
    magentic plan); ``stalls``, ``replans`` and ``last_step`` are the magentic
    manager's progress bookkeeping (rounds without progress, re-plans made, the last
    assignment).

    Example::

        >>> t = Turn([ChatMessage.user("task")], start=1)
        >>> t.added, t.round
        ([], 0)
    """

    conversation: list[ChatMessage]
    start: int = 0
    round: int = 0
    usage: Usage = field(default_factory=Usage)
    trail: list[str] = field(default_factory=list)
    stalls: int = 0
    replans: int = 0
    last_step: str = ""

    @property
    def added(self) -> list[ChatMessage]:
        """Messages the participants added to the input."""
        return self.conversation[self.start :]


def check_participants(agents: Sequence[Any], pattern: str, minimum: int = 1) -> list[Any]:
    """Validate a participant list: agents (``run_stream`` + ``name``), unique names."""
    agents = list(agents)
    if len(agents) < minimum:
        raise ValueError(
            f"{pattern} needs at least {minimum} participant(s), got {len(agents)}; "
            f"pass a list of agents"
        )
    for i, a in enumerate(agents):
        if not hasattr(a, "run_stream") or not hasattr(a, "name"):
            raise TypeError(
                f"{pattern}: participant {i} is {a!r}, not an agent; pass agents "
                f"(e.g. ChatAgent) that have name and run_stream"
            )
    names = [a.name for a in agents]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{pattern}: two participants are named {dupes}; give each a unique name")
    ids = [a.id for a in agents]
    dupes = sorted({n for n in ids if ids.count(n) > 1})
    if dupes:
        raise ValueError(f"{pattern}: two participants have the id {dupes}; give each a unique id")
    return agents


def start_turn(value: Any, where: str) -> Turn:
    """The first :class:`Turn` of a run from its input (str, message or messages)."""
    conversation = as_messages(value, where=where)
    return Turn(list(conversation), start=len(conversation))


def view_for(agent_name: str, conversation: list[ChatMessage]) -> list[ChatMessage]:
    """The conversation as ``agent_name`` should see it.

    Other agents' answers become user messages keeping their ``author_name``;
    system prompts, tool traffic and text-less tool-call requests are left out
    (they are internal to the agent that made them).
    """
    out: list[ChatMessage] = []
    for m in conversation:
        if m.role in ("system", "tool") or (m.role == "assistant" and not m.text):
            continue
        if m.role == "assistant" and m.author_name != agent_name:
            out.append(ChatMessage("user", m.text, author_name=m.author_name))
        else:
            out.append(m)
    return out


def visible(response: AgentResponse, author: str) -> list[ChatMessage]:
    """The messages of ``response`` the other participants see: answers with text."""
    return [
        ChatMessage("assistant", m.text, author_name=m.author_name or author)
        for m in response.messages
        if m.role == "assistant" and m.text
    ]


async def run_agent(
    agent: Any,
    messages: list[ChatMessage],
    ctx: WorkflowContext[Any, Any],
    **options: Any,
) -> AgentResponse:
    """Run ``agent`` on ``messages``, streaming its chunks as ``AgentRunUpdate`` events
    and reporting its tokens as one ``AgentUsage`` event."""
    final: AgentResponse | None = None
    async for update in agent.run_stream(messages, **options):
        if getattr(update, "done", False):
            final = update.response
        await ctx.add_event(update)
    if final is None:
        raise RuntimeError(
            f"agent {agent.name!r} in executor {ctx.executor_id!r} ended its stream without "
            f"a final update (done=True with a response)"
        )
    u = final.usage
    await ctx.add_event(
        AgentUsage(
            agent_id=agent.id,
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            total_tokens=u.total_tokens,
            model=final.metadata.get("model"),
            model_calls=final.metadata.get("model_calls", 0),
        )
    )
    return final


async def call(func: Any, *args: Any) -> Any:
    """Call a user callback that may be sync or async."""
    result = func(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def final_response(
    turn: Turn, agent_id: str, pattern: str, reason: str, **metadata: Any
) -> AgentResponse:
    """The output of a conversational pattern: the messages the participants added."""
    return AgentResponse(
        messages=list(turn.added),
        agent_id=agent_id,
        usage=turn.usage,
        metadata={"pattern": pattern, "stop_reason": reason, "rounds": turn.round, **metadata},
    )
