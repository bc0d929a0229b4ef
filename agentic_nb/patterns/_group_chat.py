"""GroupChatBuilder: a manager picks who speaks next; everyone shares one conversation.

Example::

    >>> from agentic_nb.agents import ChatAgent
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> coder = ChatAgent(ScriptedChatClient(["v1", "v2"]), name="coder")
    >>> reviewer = ChatAgent(ScriptedChatClient(["fix it", "approved"]), name="reviewer")
    >>> wf = (GroupChatBuilder([coder, reviewer])
    ...       .with_termination(lambda msgs: msgs[-1].text == "approved").build())
    >>> out = wf.run_sync("Write a sort").outputs[0]
    >>> [m.author_name for m in out.messages], out.metadata["stop_reason"]
    (['coder', 'reviewer', 'coder', 'reviewer'], 'termination')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from agentic_nb.agents import AgentResponse
from agentic_nb.llm import ChatMessage, StructuredOutputError
from agentic_nb.workflow import (
    Executor,
    ExecutorKind,
    Workflow,
    WorkflowBuilder,
    WorkflowContext,
    handler,
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
from ._selection import (
    GroupChatState,
    LLMSelector,
    Selector,
    Termination,
    as_termination,
    named_in,
    round_robin,
)

MANAGER_ID = "group_chat_manager"


def _choice_schema(names: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "next_speaker": {"type": "string", "enum": [*names, ""]},
            "finished": {"type": "boolean"},
            "reason": {"type": "string"},
        },
        "required": ["next_speaker", "finished", "reason"],
        "additionalProperties": False,
    }


class _Manager(Executor):
    kind = ExecutorKind.ORCHESTRATOR

    def __init__(self, builder: GroupChatBuilder) -> None:
        super().__init__(MANAGER_ID)
        self.workflow_name = builder.name
        self.agents = {a.name: a for a in builder.participants}
        self.ids = {a.name: a.id for a in builder.participants}
        self.selection = builder._selection
        self.max_rounds = builder._max_rounds
        self.termination = builder._termination
        self.descriptions = {
            a.name: " ".join(
                [getattr(a, "description", "") or "", *map(str, getattr(a, "skills", ()) or ())]
            ).strip()
            for a in builder.participants
        }

    def _state(self, turn: Turn) -> GroupChatState:
        return GroupChatState(
            tuple(self.agents), list(turn.conversation), turn.round, self.descriptions, turn.start
        )

    @handler
    async def start(self, value: StartInput, ctx: WorkflowContext[Turn, AgentResponse]) -> None:
        await self.next_turn(start_turn(value, f"group chat {self.workflow_name!r}"), ctx)

    @handler
    async def next_turn(self, turn: Turn, ctx: WorkflowContext[Turn, AgentResponse]) -> None:
        if turn.round > 0 and self.termination is not None:
            why = await self.termination.check_async(self._state(turn))
            if why:
                await self._finish(turn, "termination", ctx, terminated_by=why)
                return
        if turn.round >= self.max_rounds:
            await self._finish(turn, "max_rounds", ctx)
            return
        speaker = await self._select(turn, ctx)
        if speaker is None:
            await self._finish(turn, "manager_finished", ctx)
            return
        await ctx.send_message(turn, target=self.ids[speaker])

    def _prompt(self) -> str:
        roster = ", ".join(n + (f" ({d})" if d else "") for n, d in self.descriptions.items())
        return (
            f"You manage a group chat between: {roster}. Pick who speaks next "
            "(next_speaker), or set finished to true when the task is done. Answer only "
            'with JSON: {"next_speaker": "<name or empty>", "finished": <bool>, '
            '"reason": "<why>"}'
        )

    async def _ask(self, sel: Any, turn: Turn, ctx: WorkflowContext[Any, Any]) -> AgentResponse:
        names = tuple(self.agents)
        messages = [*view_for(sel.name, turn.conversation), ChatMessage.user(self._prompt())]
        response = await run_agent(sel, messages, ctx, response_format=_choice_schema(names))
        turn.usage = turn.usage + response.usage
        return response

    async def _select(self, turn: Turn, ctx: WorkflowContext[Any, Any]) -> str | None:
        names = tuple(self.agents)
        sel: Any = self.selection
        if isinstance(sel, LLMSelector):
            picked = await self._llm_select(sel, turn, ctx)
        elif hasattr(sel, "run_stream"):
            response = await self._ask(sel, turn, ctx)
            choice = response.value
            if not isinstance(choice, dict) or "next_speaker" not in choice:
                raise ValueError(
                    f"group chat {self.workflow_name!r}: manager agent {sel.name!r} answered "
                    f"{response.text[:200]!r}, not a JSON object with next_speaker; check its "
                    f"instructions, or use llm_selector(...) which falls back when the answer "
                    f"names no participant"
                )
            await ctx.log("info", f"manager chose {choice.get('next_speaker')!r}: {choice}")
            if choice.get("finished"):
                return None
            picked = choice["next_speaker"] or None
        else:
            picked = await call(sel, self._state(turn))
        if picked is None:
            return None
        if picked not in self.agents:
            raise ValueError(
                f"group chat {self.workflow_name!r}: the selection picked {picked!r}, which is "
                f"not a participant (participants: {list(names)}); return one of these names "
                f"or None to stop"
            )
        return str(picked)

    async def _llm_select(
        self, sel: LLMSelector, turn: Turn, ctx: WorkflowContext[Any, Any]
    ) -> str | None:
        names = list(self.agents)
        try:
            response = await self._ask(sel.agent, turn, ctx)
        except StructuredOutputError as exc:  # keep the model's own words
            answer, choice = str(exc).partition("answer was ")[2] or str(exc), None
        else:
            answer, choice = response.text, response.value
        if isinstance(choice, dict):
            if choice.get("finished") is True:
                await ctx.log("info", f"llm_selector: finished ({choice.get('reason', '')})")
                return None
            picked = choice.get("next_speaker")
            if picked in self.agents:
                await ctx.log("info", f"llm_selector chose {picked!r}: {choice}")
                return str(picked)
        guess = named_in(answer, names)
        if guess is not None:
            await ctx.log("info", f"llm_selector: answer {answer[:120]!r} names {guess!r}")
            return guess
        picked = await call(sel.fallback, self._state(turn))
        fallback = getattr(sel.fallback, "__name__", repr(sel.fallback))
        await ctx.log(
            "warning",
            f"llm_selector: the model's answer {answer[:200]!r} names no participant of "
            f"{names}; fallback {fallback} picked {picked!r}",
        )
        return None if picked is None else str(picked)

    async def _finish(
        self, turn: Turn, reason: str, ctx: WorkflowContext[Any, Any], **metadata: Any
    ) -> None:
        await ctx.yield_output(
            final_response(turn, self.workflow_name, "group_chat", reason, **metadata)
        )


class _Speaker(Executor):
    def __init__(self, agent: Any) -> None:
        super().__init__(agent.id)
        self.agent = agent

    @handler
    async def speak(self, turn: Turn, ctx: WorkflowContext[Turn]) -> None:
        name = self.agent.name
        response = await run_agent(self.agent, view_for(name, turn.conversation), ctx)
        conversation = [*turn.conversation, *visible(response, name)]
        await ctx.send_message(
            replace(
                turn,
                conversation=conversation,
                round=turn.round + 1,
                usage=turn.usage + response.usage,
            )
        )


class GroupChatBuilder:
    """Build a star: an orchestrator (kind ORCHESTRATOR) asks one participant per round.

    The orchestrator holds the shared conversation; each round it picks a speaker,
    sends it the whole conversation (other agents' answers as user messages with
    their ``author_name``) and appends the answer. It stops when
    ``termination(conversation)`` is true (checked after every answer), when the
    selection returns ``None`` (or the manager agent says ``finished``), or after
    ``max_rounds`` answers (default 10). The output is one :class:`AgentResponse`
    with every answer in order and ``metadata["stop_reason"]``.

    Selection, with :meth:`with_selection`:

    * :func:`round_robin` (the default), :func:`no_repeat` (never the last speaker,
      least recently heard first), :func:`smart` (best match of the last message
      with each participant's name, description and ``skills``);
    * :func:`llm_selector` (a model picks, with a fallback selector when its answer
      names no participant);
    * a callable ``(GroupChatState) -> name | None`` (sync or async);
    * an agent (e.g. a ``ChatAgent``) asked each round, with structured output
      ``{"next_speaker", "finished", "reason"}``. An unknown name fails the run
      with an error listing the participants.

    Termination, with :meth:`with_termination`: :func:`max_messages`,
    :func:`max_rounds`, :func:`keyword`, combined with :func:`any_of` /
    :func:`all_of`, or a callable ``(conversation) -> bool``; what fired is in
    ``metadata["terminated_by"]`` (e.g. ``"keyword 'approved'"``).

    A participant that raises fails the run (the error names its executor).

    Example::

        >>> from agentic_nb.agents import ChatAgent
        >>> from agentic_nb.llm import ScriptedChatClient
        >>> a = ChatAgent(ScriptedChatClient(["1", "2", "3"]), name="a")
        >>> wf = GroupChatBuilder([a]).with_max_rounds(2).build()
        >>> wf.run_sync("count").outputs[0].metadata["stop_reason"]
        'max_rounds'
    """

    def __init__(self, participants: Sequence[Any], *, name: str = "group_chat") -> None:
        self.participants = check_participants(participants, f"GroupChatBuilder {name!r}")
        if any(a.id == MANAGER_ID for a in self.participants):
            raise ValueError(
                f"GroupChatBuilder {name!r}: participant id {MANAGER_ID!r} is reserved for "
                f"the orchestrator; rename that agent"
            )
        self.name = name
        self._selection: Selector | Any = round_robin
        self._max_rounds = 10
        self._termination: Termination | None = None

    def with_selection(self, selection: Selector | Any) -> GroupChatBuilder:
        """Who speaks next: :func:`round_robin`, :func:`no_repeat`, :func:`smart`,
        :func:`llm_selector`, a callable ``(state) -> name | None`` or a manager agent."""
        if not callable(selection) and not hasattr(selection, "run_stream"):
            raise TypeError(
                f"with_selection needs round_robin, a callable(state) or an agent, got "
                f"{selection!r}"
            )
        self._selection = selection
        return self

    def with_max_rounds(self, rounds: int) -> GroupChatBuilder:
        """Stop after ``rounds`` participant answers (a safety limit)."""
        if not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"with_max_rounds needs an int >= 1, got {rounds!r}")
        self._max_rounds = rounds
        return self

    def with_termination(
        self, condition: Termination | Callable[[list[ChatMessage]], Any]
    ) -> GroupChatBuilder:
        """Stop when ``condition`` holds, checked after each answer: a
        :class:`Termination` (``max_messages``, ``max_rounds``, ``keyword``, combined
        with ``any_of`` / ``all_of`` or ``|`` / ``&``) or a callable
        ``(conversation) -> bool`` (sync or async)."""
        if not callable(condition) and not isinstance(condition, Termination):
            raise TypeError(
                f"with_termination needs a callable or a Termination (max_messages, "
                f"max_rounds, keyword, any_of, all_of), got {condition!r}"
            )
        self._termination = as_termination(condition)
        return self

    def build(self, **builder_options: Any) -> Workflow:
        """The group chat as a normal :class:`Workflow`."""
        return hub_workflow(self.name, _Manager(self), self.participants, builder_options)


def hub_workflow(
    name: str,
    manager: Executor,
    participants: Sequence[Any],
    builder_options: dict[str, Any],
    *,
    self_loop: bool = False,
) -> Workflow:
    """A manager executor linked both ways to one speaker per participant agent
    (the shape of group chat and magentic); ``self_loop`` adds a manager -> manager
    edge (a step of its own, e.g. waiting for a human's review)."""
    builder = WorkflowBuilder(name=name, start=manager, **builder_options)
    if self_loop:
        builder.add_edge(manager, manager)
    for agent in participants:
        speaker = _Speaker(agent)
        builder.add_edge(manager, speaker).add_edge(speaker, manager)
    return builder.build()
