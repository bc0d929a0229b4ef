"""MagenticBuilder: a manager agent plans, assigns each step, checks progress, answers.

Example::

    >>> import json
    >>> from agentic_nb.agents import ChatAgent
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> manager = ChatAgent(ScriptedChatClient([
    ...     json.dumps({"steps": ["find the facts"]}),
    ...     json.dumps({"finished": False, "next_speaker": "researcher",
    ...                 "instruction": "Find the boiling point of water.", "reason": "step 1"}),
    ...     json.dumps({"finished": True, "next_speaker": "", "instruction": "",
    ...                 "reason": "answered"}),
    ...     "Water boils at 100 C at sea level."]), name="manager")
    >>> researcher = ChatAgent(ScriptedChatClient(["100 C at 1 atm."]), name="researcher")
    >>> out = MagenticBuilder(manager, [researcher]).build().run_sync("Boiling point?").outputs[0]
    >>> out.text, out.metadata["plan"], out.metadata["stop_reason"]
    ('Water boils at 100 C at sea level.', ['find the facts'], 'finished')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agentic_nb.agents import AgentResponse
from agentic_nb.llm import ChatMessage
from agentic_nb.workflow import (
    Executor,
    ExecutorKind,
    Workflow,
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
from ._group_chat import hub_workflow

MANAGER_ID = "magentic_manager"

_PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"steps": {"type": "array", "items": {"type": "string"}}},
    "required": ["steps"],
    "additionalProperties": False,
}


def _progress_schema(names: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "finished": {"type": "boolean"},
            "next_speaker": {"type": "string", "enum": [*names, ""]},
            "instruction": {"type": "string"},
            "reason": {"type": "string"},
        },
        "required": ["finished", "next_speaker", "instruction", "reason"],
        "additionalProperties": False,
    }


@register_checkpoint_type
@dataclass
class MagenticPlan:
    """Emitted (as a ``Custom`` event) when the manager has made its plan.

    Example::

        >>> MagenticPlan(["research", "write"]).steps
        ['research', 'write']
    """

    steps: list[str] = field(default_factory=list)


@register_checkpoint_type
@dataclass
class MagenticStep:
    """Emitted (as a ``Custom`` event) each time the manager assigns work.

    Example::

        >>> MagenticStep(1, "writer", "Draft it.", "research done").speaker
        'writer'
    """

    round: int
    speaker: str
    instruction: str
    reason: str = ""


class _Manager(Executor):
    kind = ExecutorKind.ORCHESTRATOR

    def __init__(self, builder: MagenticBuilder) -> None:
        super().__init__(MANAGER_ID)
        self.manager = builder.manager
        self.workflow_name = builder.name
        self.agents = {a.name: a for a in builder.participants}
        self.max_rounds = builder._max_rounds

    def _roster(self) -> str:
        return ", ".join(
            n + (f" ({a.description})" if getattr(a, "description", "") else "")
            for n, a in self.agents.items()
        )

    async def _ask(
        self, turn: Turn, prompt: str, ctx: WorkflowContext[Any, Any], **options: Any
    ) -> AgentResponse:
        messages = [*view_for(self.manager.name, turn.conversation), ChatMessage.user(prompt)]
        response = await run_agent(self.manager, messages, ctx, **options)
        turn.usage = turn.usage + response.usage
        return response

    def _structured(self, response: AgentResponse, key: str, what: str) -> dict[str, Any]:
        value = response.value
        if not isinstance(value, dict) or key not in value:
            raise ValueError(
                f"magentic {self.workflow_name!r}: manager {self.manager.name!r} answered "
                f"{response.text[:200]!r} when asked for {what}; expected a JSON object with "
                f"{key!r} (check the manager's instructions or model)"
            )
        return value

    @handler
    async def start(self, value: StartInput, ctx: WorkflowContext[Turn, AgentResponse]) -> None:
        turn = start_turn(value, f"magentic {self.workflow_name!r}")
        response = await self._ask(
            turn,
            f"Make a short step-by-step plan for the task above. The team: {self._roster()}. "
            'Answer only with JSON: {"steps": ["..."]}',
            ctx,
            response_format=_PLAN_SCHEMA,
        )
        steps = [str(s) for s in self._structured(response, "steps", "a plan")["steps"]]
        await ctx.add_event(MagenticPlan(steps))
        plan = "Plan:\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
        turn.conversation.append(ChatMessage.assistant(plan, author_name=self.manager.name))
        turn.trail = steps
        await self.progress(turn, ctx)

    @handler
    async def progress(self, turn: Turn, ctx: WorkflowContext[Turn, AgentResponse]) -> None:
        if turn.round >= self.max_rounds:
            await ctx.log("warning", f"magentic stopped after max_rounds={self.max_rounds}")
            await self._final(turn, "max_rounds", ctx)
            return
        names = list(self.agents)
        response = await self._ask(
            turn,
            f"Check the progress on the plan. The team: {self._roster()}. If the task is "
            f"done set finished to true; otherwise name who acts next (next_speaker) and "
            f"what exactly they should do (instruction). Answer only with JSON: "
            '{"finished": <bool>, "next_speaker": "<name>", "instruction": "...", '
            '"reason": "..."}',
            ctx,
            response_format=_progress_schema(names),
        )
        ledger = self._structured(response, "finished", "a progress check")
        if ledger.get("finished"):
            await self._final(turn, "finished", ctx)
            return
        speaker = str(ledger.get("next_speaker") or "")
        if speaker not in self.agents:
            raise ValueError(
                f"magentic {self.workflow_name!r}: manager {self.manager.name!r} picked "
                f"{speaker!r}, which is not a participant (participants: {names})"
            )
        instruction = str(ledger.get("instruction") or "")
        await ctx.add_event(
            MagenticStep(turn.round + 1, speaker, instruction, str(ledger.get("reason", "")))
        )
        turn.conversation.append(
            ChatMessage.assistant(f"{speaker}: {instruction}", author_name=self.manager.name)
        )
        await ctx.send_message(turn, target=self.agents[speaker].id)

    async def _final(self, turn: Turn, reason: str, ctx: WorkflowContext[Any, Any]) -> None:
        response = await self._ask(
            turn, "Give the final answer to the original task, using the work above.", ctx
        )
        turn.conversation.extend(visible(response, self.manager.name))
        await ctx.yield_output(
            final_response(turn, self.workflow_name, "magentic", reason, plan=list(turn.trail))
        )


class MagenticBuilder:
    """Build a planner-led team: the manager plans, delegates step by step, then answers.

    The manager (an agent able to give structured output, e.g. a ``ChatAgent``)
    is asked, in order:

    1. for a plan ``{"steps": [...]}``, posted to the shared conversation and
       emitted as a ``Custom`` event carrying a :class:`MagenticPlan`;
    2. each round, for a progress check ``{"finished", "next_speaker",
       "instruction", "reason"}``: the instruction is posted and the named
       participant answers with the whole conversation in view
       (a :class:`MagenticStep` event records each assignment);
    3. when finished, or after ``max_rounds`` participant turns (default 10), for
       the final answer, which ends the output :class:`AgentResponse`
       (``metadata["plan"]``, ``metadata["stop_reason"]``: ``"finished"`` or
       ``"max_rounds"``).

    An answer that is not the requested JSON, or names an unknown participant,
    fails the run with an error saying so; so does a participant that raises.
    Re-planning when progress stalls is not implemented.

    Example::

        >>> from agentic_nb.agents import ChatAgent
        >>> from agentic_nb.llm import ScriptedChatClient
        >>> m = ChatAgent(ScriptedChatClient(['{"steps": []}', "Nothing to do."]), name="m")
        >>> w = ChatAgent(ScriptedChatClient([]), name="w")
        >>> out = MagenticBuilder(m, [w]).with_max_rounds(0).build().run_sync("noop").outputs[0]
        >>> out.text, out.metadata["stop_reason"]
        ('Nothing to do.', 'max_rounds')
    """

    def __init__(
        self, manager: Any, participants: Sequence[Any], *, name: str = "magentic"
    ) -> None:
        if not hasattr(manager, "run_stream") or not hasattr(manager, "name"):
            raise TypeError(
                f"MagenticBuilder {name!r}: the manager must be an agent, got {manager!r}"
            )
        self.participants = check_participants(participants, f"MagenticBuilder {name!r}")
        if manager in self.participants or manager.name in {a.name for a in self.participants}:
            raise ValueError(
                f"MagenticBuilder {name!r}: the manager {manager.name!r} is also a participant; "
                f"use a separate agent as manager"
            )
        if any(a.id == MANAGER_ID for a in self.participants):
            raise ValueError(
                f"MagenticBuilder {name!r}: participant id {MANAGER_ID!r} is reserved; rename it"
            )
        self.manager = manager
        self.name = name
        self._max_rounds = 10

    def with_max_rounds(self, rounds: int) -> MagenticBuilder:
        """At most ``rounds`` participant turns before the manager must answer."""
        if not isinstance(rounds, int) or rounds < 0:
            raise ValueError(f"with_max_rounds needs an int >= 0, got {rounds!r}")
        self._max_rounds = rounds
        return self

    def build(self, **builder_options: Any) -> Workflow:
        """The team as a normal :class:`Workflow`."""
        return hub_workflow(self.name, _Manager(self), self.participants, builder_options)
