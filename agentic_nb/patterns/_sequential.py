"""SequentialBuilder: agents in a chain, each one seeing the whole conversation so far.

Example::

    >>> from agentic_nb.agents import ChatAgent
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> writer = ChatAgent(ScriptedChatClient(["Ride far, spend less."]), name="writer")
    >>> reviewer = ChatAgent(ScriptedChatClient(["Punchy. Approved."]), name="reviewer")
    >>> wf = SequentialBuilder([writer, reviewer]).build()
    >>> out = wf.run_sync("Tagline for a cheap eBike").outputs[0]
    >>> [(m.author_name, m.text) for m in out.messages]
    [('writer', 'Ride far, spend less.'), ('reviewer', 'Punchy. Approved.')]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agentic_nb.agents import AgentResponse
from agentic_nb.llm import ChatMessage
from agentic_nb.workflow import Executor, Workflow, WorkflowBuilder, WorkflowContext, handler

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

Transform = Callable[[list[ChatMessage]], Any]
Predicate = Callable[[list[ChatMessage]], Any]


class _Step(Executor):
    """One participant of a sequential chain (accepts the run input or a Turn)."""

    def __init__(self, agent: Any, builder: SequentialBuilder, last: bool) -> None:
        super().__init__(agent.id)
        self.agent = agent
        self.workflow_name = builder.name
        self.transform = builder._transform
        self.early_exit = builder._early_exit
        self.last = last

    @handler
    async def from_input(
        self, value: StartInput, ctx: WorkflowContext[Turn, AgentResponse]
    ) -> None:
        await self.from_turn(start_turn(value, f"sequential {self.workflow_name!r}"), ctx)

    @handler
    async def from_turn(self, turn: Turn, ctx: WorkflowContext[Turn, AgentResponse]) -> None:
        name = self.agent.name
        response = await run_agent(self.agent, view_for(name, turn.conversation), ctx)
        conversation = [*turn.conversation, *visible(response, name)]
        turn = Turn(
            conversation, turn.start, turn.round + 1, turn.usage + response.usage, turn.trail
        )
        if self.last:
            await ctx.yield_output(final_response(turn, self.workflow_name, "sequential", "done"))
            return
        if self.early_exit is not None and await call(self.early_exit, turn.conversation):
            await ctx.yield_output(
                final_response(
                    turn, self.workflow_name, "sequential", "early_exit", exited_after=name
                )
            )
            return
        if self.transform is not None:
            changed = await call(self.transform, list(turn.conversation))
            if not isinstance(changed, list) or not all(
                isinstance(m, ChatMessage) for m in changed
            ):
                raise TypeError(
                    f"sequential {self.workflow_name!r}: the transform after {name!r} returned "
                    f"{type(changed).__name__}; it must return a list of ChatMessage"
                )
            turn.conversation = changed
            turn.start = min(turn.start, len(changed))
        await ctx.send_message(turn)


class SequentialBuilder:
    """Build a chain ``a -> b -> c`` of agents; each sees the conversation so far.

    The first agent sees the input; every next one sees the input plus every
    earlier answer (other agents' answers shown as user messages with their
    ``author_name``). The workflow's output is one :class:`AgentResponse` whose
    ``messages`` are the participants' answers in order (``text`` is the last
    one) and whose ``metadata`` says why it stopped (``"done"`` or
    ``"early_exit"``).

    * ``with_transform(fn)``: ``fn(conversation) -> conversation`` runs between
      two participants (sync or async); what it returns is what the next one sees
      (e.g. append a summary, drop old turns).
    * ``with_early_exit(predicate)``: after each participant but the last,
      ``predicate(conversation)`` true ends the run there.

    A participant that raises fails the run: the result's ``error`` and the
    ``ExecutorFailed`` event name it (retries belong to the agent's chat client).

    Example::

        >>> from agentic_nb.agents import ChatAgent
        >>> from agentic_nb.llm import ScriptedChatClient
        >>> a = ChatAgent(ScriptedChatClient(["draft APPROVED"]), name="a")
        >>> b = ChatAgent(ScriptedChatClient(["never asked"]), name="b")
        >>> wf = (SequentialBuilder([a, b], name="gate")
        ...       .with_early_exit(lambda msgs: "APPROVED" in msgs[-1].text).build())
        >>> out = wf.run_sync("go").outputs[0]
        >>> out.text, out.metadata["stop_reason"]
        ('draft APPROVED', 'early_exit')
    """

    def __init__(self, participants: Sequence[Any], *, name: str = "sequential") -> None:
        self.participants = check_participants(participants, f"SequentialBuilder {name!r}")
        self.name = name
        self._transform: Transform | None = None
        self._early_exit: Predicate | None = None

    def with_transform(self, transform: Transform) -> SequentialBuilder:
        """Rewrite the conversation between two participants."""
        if not callable(transform):
            raise TypeError(f"with_transform needs a callable, got {transform!r}")
        self._transform = transform
        return self

    def with_early_exit(self, predicate: Predicate) -> SequentialBuilder:
        """Stop after a participant when ``predicate(conversation)`` is true."""
        if not callable(predicate):
            raise TypeError(f"with_early_exit needs a callable, got {predicate!r}")
        self._early_exit = predicate
        return self

    def build(self, **builder_options: Any) -> Workflow:
        """The chain as a normal :class:`Workflow` (``builder_options`` go to
        :class:`WorkflowBuilder`, e.g. ``checkpoint_storage=``)."""
        n = len(self.participants)
        steps = [_Step(a, self, last=i == n - 1) for i, a in enumerate(self.participants)]
        builder = WorkflowBuilder(name=self.name, start=steps[0], **builder_options)
        if n > 1:
            builder.add_chain(steps)
        return builder.build()
