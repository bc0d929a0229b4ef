"""The Agent protocol and BaseAgent (shared conveniences: invoke, new_thread, as_executor).

Example::

    >>> from agentic_nb.agents import ChatAgent
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> isinstance(ChatAgent(ScriptedChatClient(["hi"]), name="bot"), Agent)
    True
"""

from __future__ import annotations

import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload, runtime_checkable

from agentic_nb import _instrumentation

from ._thread import AgentThread
from ._tools import FunctionTool
from ._types import AgentResponse, AgentRunUpdate

if TYPE_CHECKING:
    from ._background import ContinuationToken
    from ._executor import AgentExecutor


@runtime_checkable
class Agent(Protocol):
    """What every agent offers: ``id``, ``name``, ``tools``, ``run`` and ``run_stream``.

    ``messages`` may be a ``str``, a ``ChatMessage`` or a list of them; ``thread``
    carries the conversation across calls.
    """

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def tools(self) -> Sequence[FunctionTool]: ...

    async def run(
        self, messages: Any = None, *, thread: AgentThread | None = None, **options: Any
    ) -> AgentResponse: ...

    def run_stream(
        self, messages: Any = None, *, thread: AgentThread | None = None, **options: Any
    ) -> AsyncIterator[AgentRunUpdate]: ...


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class BaseAgent(ABC):
    """Base class of agents: identity plus ``invoke``, ``new_thread``, ``as_executor``, ``as_tool``.

    Subclasses implement ``run_stream`` (the last update has ``done=True`` and the
    full ``response``); ``run`` consumes it.

    Example::

        >>> from agentic_nb.agents import ChatAgent
        >>> from agentic_nb.llm import ScriptedChatClient
        >>> a = ChatAgent(ScriptedChatClient(["hi"]), name="greeter")
        >>> a.id, a.new_thread().agent_id
        ('greeter', 'greeter')
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, description: str = ""
    ) -> None:
        base = _SAFE.sub("_", type(self).__name__.lower())
        self._name: str = name or f"{base}_{uuid.uuid4().hex[:6]}"
        self._id: str = id or _SAFE.sub("_", self._name)
        self.description = description
        self._executor: AgentExecutor | None = None

    @property
    def id(self) -> str:
        return self._id

    @property
    def name(self) -> str:
        return self._name

    @property
    def tools(self) -> Sequence[FunctionTool]:
        return ()

    @overload
    async def run(
        self,
        messages: Any = None,
        *,
        thread: AgentThread | None = None,
        background: Literal[False] = False,
        **options: Any,
    ) -> AgentResponse: ...
    @overload
    async def run(
        self,
        messages: Any = None,
        *,
        thread: AgentThread | None = None,
        background: Literal[True],
        **options: Any,
    ) -> ContinuationToken: ...
    async def run(
        self,
        messages: Any = None,
        *,
        thread: AgentThread | None = None,
        background: bool = False,
        **options: Any,
    ) -> AgentResponse | ContinuationToken:
        """Run to completion and return the :class:`AgentResponse`.

        With ``background=True`` return a :class:`ContinuationToken` at once instead
        (``background_store=`` picks the store; see ``agentic_nb.agents.poll``).
        """
        if background:
            from ._background import start_background

            store = options.pop("background_store", None)
            return await start_background(self, messages, thread=thread, store=store, **options)
        final: AgentResponse | None = None
        updates = self._updates(messages, thread=thread, stream=False, **options)
        inst = _instrumentation.ACTIVE
        if inst is not None:
            updates = inst.agent_updates(self, updates, messages, thread)
        async for update in updates:
            if update.done:
                final = update.response
        if final is None:  # pragma: no cover - _updates always ends with a done update
            raise RuntimeError(f"agent {self.name!r} ended without a final response")
        return final

    async def run_stream(
        self, messages: Any = None, *, thread: AgentThread | None = None, **options: Any
    ) -> AsyncIterator[AgentRunUpdate]:
        """Stream :class:`AgentRunUpdate` chunks; the last one has ``done=True``."""
        updates = self._updates(messages, thread=thread, stream=True, **options)
        inst = _instrumentation.ACTIVE
        if inst is not None:
            updates = inst.agent_updates(self, updates, messages, thread)
        async for update in updates:
            yield update

    @abstractmethod
    def _updates(
        self, messages: Any, *, thread: AgentThread | None, stream: bool, **options: Any
    ) -> AsyncIterator[AgentRunUpdate]:
        """The agent's work as a stream of updates (``stream`` asks for token chunks)."""

    async def invoke(
        self, messages: Any = None, thread: AgentThread | None = None, **options: Any
    ) -> AgentResponse:
        """Shorthand for ``run``: ``await agent.invoke("Hello!", thread)``."""
        return await self.run(messages, thread=thread, **options)

    def new_thread(self, **metadata: Any) -> AgentThread:
        """A fresh conversation for this agent (``metadata`` e.g. ``user_id=...``)."""
        store = getattr(self, "message_store", None)
        return AgentThread(agent_id=self.id, metadata=metadata, store=store)

    def as_executor(self, id: str | None = None, **options: Any) -> AgentExecutor:
        """This agent as a workflow executor (the builder calls this for you).

        Without arguments the same executor is returned every time, so one agent
        object can appear in several edges of a builder.
        """
        from ._executor import AgentExecutor

        if id is None and not options:
            if self._executor is None:
                self._executor = AgentExecutor(self)
            return self._executor
        return AgentExecutor(self, id=id, **options)

    def as_tool(self, name: str | None = None, description: str | None = None) -> FunctionTool:
        """This agent as a tool another agent can call with a ``task`` string."""
        agent = self

        async def ask(task: str) -> str:
            return (await agent.run(task)).text

        return FunctionTool(
            ask,
            name=_SAFE.sub("_", name or self.id).replace(".", "_"),
            description=description or self.description or f"Ask the agent {self.name!r}.",
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
