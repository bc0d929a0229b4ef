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

import re
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
            "progress_made": {"type": "boolean"},
            "next_speaker": {"type": "string", "enum": [*names, ""]},
            "instruction": {"type": "string"},
            "reason": {"type": "string"},
        },
        "required": ["finished", "progress_made", "next_speaker", "instruction", "reason"],
        "additionalProperties": False,
    }


@register_checkpoint_type
@dataclass
class MagenticPlan:
    """Emitted (as a ``Custom`` event) when a plan is made, re-made or edited.

    ``revision`` is 0 for the first plan and counts re-plans (after a stall or a
    rejected review); ``source`` is ``"manager"`` or ``"reviewer"`` (a human's edit).

    Example::

        >>> MagenticPlan(["research", "write"]).steps
        ['research', 'write']
    """

    steps: list[str] = field(default_factory=list)
    revision: int = 0
    source: str = "manager"


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


@register_checkpoint_type
@dataclass
class MagenticStall:
    """Emitted (as a ``Custom`` event) when progress stalled for ``stalls`` rounds in a
    row; ``action`` is ``"replan"`` or ``"stop"`` (re-plans used up).

    Example::

        >>> MagenticStall(4, 3, "replan").action
        'replan'
    """

    round: int
    stalls: int
    action: str
    reason: str = ""


@register_checkpoint_type
@dataclass
class PlanReviewResponse:
    """A human's answer to a :class:`MagenticPlanReview` (the approval card's form).

    ``approved`` with an empty ``plan`` keeps the proposed plan; a non-empty
    ``plan`` (one step per line, numbering optional) replaces it. ``approved=False``
    sends ``feedback`` to the manager, which makes a new plan for review.

    Example::

        >>> PlanReviewResponse(approved=False, feedback="add a budget step").approved
        False
    """

    approved: bool = True
    plan: str = ""
    feedback: str = ""


@register_checkpoint_type
@dataclass
class MagenticPlanReview(PlanReviewResponse):
    """The ``request_info`` payload asking a human to approve or edit a plan.

    It is also a :class:`PlanReviewResponse` pre-filled with the proposed plan, so
    an approval card's Edit form opens with the plan text ready to change;
    Approve keeps it, Reject sends the reason as ``feedback``.

    Example::

        >>> r = MagenticPlanReview(plan="1. research", task="Launch", steps=["research"])
        >>> r.steps, r.approved
        (['research'], True)
    """

    task: str = ""
    steps: list[str] = field(default_factory=list)
    revision: int = 0


@register_checkpoint_type
@dataclass
class _PlanDraft:
    """A proposed plan travelling to the manager's own review step."""

    turn: Turn
    steps: list[str]
    attempt: int = 0


_NUMBERING = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022])\s*")


def plan_steps(text: str) -> list[str]:
    """Steps from a plan written one per line (numbering, bullets and a ``Plan:``
    header are dropped).

    Example::

        >>> plan_steps("Plan:\\n1. research\\n\\n2) write\\n- check")
        ['research', 'write', 'check']
    """
    steps = []
    for line in text.splitlines():
        line = _NUMBERING.sub("", line).strip()
        if line and line.rstrip(":").lower() not in ("plan", "revised plan"):
            steps.append(line)
    return steps


def _numbered(steps: Sequence[str]) -> str:
    return "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))


class _Manager(Executor):
    kind = ExecutorKind.ORCHESTRATOR

    def __init__(self, builder: MagenticBuilder) -> None:
        super().__init__(MANAGER_ID)
        self.manager = builder.manager
        self.workflow_name = builder.name
        self.agents = {a.name: a for a in builder.participants}
        self.max_rounds = builder._max_rounds
        self.max_stalls = builder._max_stalls
        self.max_replans = builder._max_replans
        self.review = builder._plan_review
        self.max_revisions = builder._max_plan_revisions

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

    async def _plan(self, turn: Turn, ctx: WorkflowContext[Any, Any], why: str = "") -> list[str]:
        ask = (
            f"{why} Make a new short step-by-step plan that avoids what did not work."
            if why
            else "Make a short step-by-step plan for the task above."
        )
        response = await self._ask(
            turn,
            f'{ask} The team: {self._roster()}. Answer only with JSON: {{"steps": ["..."]}}',
            ctx,
            response_format=_PLAN_SCHEMA,
        )
        return [str(s) for s in self._structured(response, "steps", "a plan")["steps"]]

    async def _propose(
        self, turn: Turn, steps: list[str], ctx: WorkflowContext[Any, Any], attempt: int = 0
    ) -> None:
        """A new plan from the manager: to the human reviewer, or adopted at once."""
        await ctx.add_event(MagenticPlan(list(steps), turn.replans))
        if self.review:
            await ctx.send_message(_PlanDraft(turn, list(steps), attempt), target=self.id)
            return
        await self._adopt(turn, steps, ctx)

    async def _adopt(self, turn: Turn, steps: list[str], ctx: WorkflowContext[Any, Any]) -> None:
        title = "Revised plan" if turn.replans else "Plan"
        turn.conversation.append(
            ChatMessage.assistant(f"{title}:\n{_numbered(steps)}", author_name=self.manager.name)
        )
        turn.trail = list(steps)
        await self.progress(turn, ctx)

    @handler
    async def start(
        self, value: StartInput, ctx: WorkflowContext[Turn | _PlanDraft, AgentResponse]
    ) -> None:
        turn = start_turn(value, f"magentic {self.workflow_name!r}")
        await self._propose(turn, await self._plan(turn, ctx), ctx)

    @handler
    async def review_plan(
        self, draft: _PlanDraft, ctx: WorkflowContext[Turn | _PlanDraft, AgentResponse]
    ) -> None:
        # Nothing before request_info: this handler re-runs from its start on resume.
        turn = draft.turn
        task = "\n".join(m.text for m in turn.conversation[: turn.start] if m.text)
        answer = await ctx.request_info(
            MagenticPlanReview(
                plan=_numbered(draft.steps),
                task=task,
                steps=list(draft.steps),
                revision=turn.replans,
            ),
            response_type=PlanReviewResponse,
        )
        if answer.approved:
            steps = plan_steps(answer.plan) if answer.plan.strip() else list(draft.steps)
            if not steps:
                steps = list(draft.steps)
            if steps != draft.steps:
                await ctx.add_event(MagenticPlan(list(steps), turn.replans, "reviewer"))
            if answer.feedback:
                turn.conversation.append(ChatMessage.user(f"Plan review: {answer.feedback}"))
            await self._adopt(turn, steps, ctx)
            return
        if draft.attempt + 1 >= self.max_revisions:
            await ctx.log(
                "warning",
                f"magentic {self.workflow_name!r}: plan rejected {draft.attempt + 1} time(s) "
                f"(max_plan_revisions={self.max_revisions}); stopping",
            )
            await ctx.yield_output(
                final_response(
                    turn,
                    self.workflow_name,
                    "magentic",
                    "plan_rejected",
                    plan=list(draft.steps),
                    feedback=answer.feedback,
                )
            )
            return
        feedback = answer.feedback or "(no reason given)"
        turn.conversation.append(
            ChatMessage.assistant(
                f"Proposed plan:\n{_numbered(draft.steps)}", author_name=self.manager.name
            )
        )
        turn.conversation.append(ChatMessage.user(f"Plan rejected by the reviewer: {feedback}"))
        steps = await self._plan(turn, ctx, "The reviewer rejected the plan.")
        await self._propose(turn, steps, ctx, draft.attempt + 1)

    @handler
    async def progress(
        self, turn: Turn, ctx: WorkflowContext[Turn | _PlanDraft, AgentResponse]
    ) -> None:
        if turn.round >= self.max_rounds:
            await ctx.log("warning", f"magentic stopped after max_rounds={self.max_rounds}")
            await self._final(turn, "max_rounds", ctx)
            return
        names = list(self.agents)
        response = await self._ask(
            turn,
            f"Check the progress on the plan. The team: {self._roster()}. If the task is "
            f"done set finished to true; otherwise say whether the last steps made progress "
            f"(progress_made), name who acts next (next_speaker) and what exactly they "
            f"should do (instruction). Answer only with JSON: "
            '{"finished": <bool>, "progress_made": <bool>, "next_speaker": "<name>", '
            '"instruction": "...", "reason": "..."}',
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
        reason = str(ledger.get("reason", ""))
        if await self._stalled(turn, ledger, f"{speaker}: {instruction}", reason, ctx):
            return
        await ctx.add_event(MagenticStep(turn.round + 1, speaker, instruction, reason))
        turn.conversation.append(
            ChatMessage.assistant(f"{speaker}: {instruction}", author_name=self.manager.name)
        )
        await ctx.send_message(turn, target=self.agents[speaker].id)

    async def _stalled(
        self,
        turn: Turn,
        ledger: dict[str, Any],
        step: str,
        reason: str,
        ctx: WorkflowContext[Any, Any],
    ) -> bool:
        """Count a round without progress (the manager says so, or repeats its last
        assignment word for word); after ``max_stalls`` in a row re-plan, or stop
        when the re-plans are used up. True when this round was handled here."""
        if self.max_stalls is None:
            return False
        stuck = ledger.get("progress_made") is False or step == turn.last_step
        turn.stalls = turn.stalls + 1 if stuck else 0
        turn.last_step = step
        if turn.stalls < self.max_stalls:
            return False
        if turn.replans >= self.max_replans:
            await ctx.add_event(MagenticStall(turn.round, turn.stalls, "stop", reason))
            await ctx.log(
                "warning",
                f"magentic {self.workflow_name!r}: no progress for {turn.stalls} rounds and "
                f"{turn.replans} re-plan(s) made (max_replans={self.max_replans}); stopping",
            )
            await self._final(turn, "stalled", ctx)
            return True
        await ctx.add_event(MagenticStall(turn.round, turn.stalls, "replan", reason))
        stalls = turn.stalls
        turn.replans += 1
        turn.stalls = 0
        turn.last_step = ""
        steps = await self._plan(
            turn, ctx, f"The team made no progress for {stalls} rounds ({reason or 'stuck'})."
        )
        await self._propose(turn, steps, ctx)
        return True

    async def _final(self, turn: Turn, reason: str, ctx: WorkflowContext[Any, Any]) -> None:
        response = await self._ask(
            turn, "Give the final answer to the original task, using the work above.", ctx
        )
        turn.conversation.extend(visible(response, self.manager.name))
        await ctx.yield_output(
            final_response(
                turn,
                self.workflow_name,
                "magentic",
                reason,
                plan=list(turn.trail),
                replans=turn.replans,
            )
        )


class MagenticBuilder:
    """Build a planner-led team: the manager plans, delegates step by step, then answers.

    The manager (an agent able to give structured output, e.g. a ``ChatAgent``)
    is asked, in order:

    1. for a plan ``{"steps": [...]}``, emitted as a ``Custom`` event carrying a
       :class:`MagenticPlan` and posted to the shared conversation;
    2. each round, for a progress check ``{"finished", "progress_made",
       "next_speaker", "instruction", "reason"}``: the instruction is posted and
       the named participant answers with the whole conversation in view
       (a :class:`MagenticStep` event records each assignment);
    3. when finished, or after ``max_rounds`` participant turns (default 10), for
       the final answer, which ends the output :class:`AgentResponse`
       (``metadata["plan"]``, ``metadata["replans"]``, ``metadata["stop_reason"]``:
       ``"finished"``, ``"max_rounds"``, ``"stalled"`` or ``"plan_rejected"``).

    **Stall detection** (:meth:`with_stall_detection`, on by default): a round
    makes no progress when the manager says ``progress_made: false`` or repeats
    its previous assignment word for word. After ``max_stalls`` such rounds in a
    row (default 3) the manager re-plans (a :class:`MagenticStall` event, then a
    new :class:`MagenticPlan` with ``revision`` + 1); after ``max_replans``
    re-plans (default 2) the next stall stops the run with the final answer
    (``stop_reason="stalled"``).

    **Plan review** (:meth:`with_plan_review`): every plan (the first and each
    re-plan) waits for a human through ``request_info``: the run's status becomes
    ``waiting`` with a :class:`MagenticPlanReview` request (an approval card:
    Approve keeps the plan, Edit changes its text, Reject sends the reason to the
    manager, which re-plans). Answer with ``run.respond(request_id,
    PlanReviewResponse(...))``. After ``max_plan_revisions`` rejections in a row
    the run ends with ``stop_reason="plan_rejected"``.

    An answer that is not the requested JSON, or names an unknown participant,
    fails the run with an error saying so; so does a participant that raises.

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
        self._max_stalls: int | None = 3
        self._max_replans = 2
        self._plan_review = False
        self._max_plan_revisions = 3

    def with_max_rounds(self, rounds: int) -> MagenticBuilder:
        """At most ``rounds`` participant turns before the manager must answer."""
        if not isinstance(rounds, int) or rounds < 0:
            raise ValueError(f"with_max_rounds needs an int >= 0, got {rounds!r}")
        self._max_rounds = rounds
        return self

    def with_stall_detection(
        self, max_stalls: int | None = 3, max_replans: int = 2
    ) -> MagenticBuilder:
        """Re-plan after ``max_stalls`` rounds in a row without progress, at most
        ``max_replans`` times (then stop); ``max_stalls=None`` turns detection off."""
        if max_stalls is not None and (not isinstance(max_stalls, int) or max_stalls < 1):
            raise ValueError(
                f"with_stall_detection: max_stalls must be an int >= 1 or None (off), "
                f"got {max_stalls!r}"
            )
        if not isinstance(max_replans, int) or max_replans < 0:
            raise ValueError(
                f"with_stall_detection: max_replans must be an int >= 0, got {max_replans!r}"
            )
        self._max_stalls = max_stalls
        self._max_replans = max_replans
        return self

    def with_plan_review(self, enabled: bool = True, *, max_revisions: int = 3) -> MagenticBuilder:
        """Ask a human to approve, edit or reject every plan (``request_info``);
        after ``max_revisions`` rejections in a row the run stops."""
        if not isinstance(max_revisions, int) or max_revisions < 1:
            raise ValueError(
                f"with_plan_review: max_revisions must be an int >= 1, got {max_revisions!r}"
            )
        self._plan_review = bool(enabled)
        self._max_plan_revisions = max_revisions
        return self

    def build(self, **builder_options: Any) -> Workflow:
        """The team as a normal :class:`Workflow`."""
        return hub_workflow(
            self.name, _Manager(self), self.participants, builder_options, self_loop=True
        )
