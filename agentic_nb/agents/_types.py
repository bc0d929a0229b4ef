"""What agents return and stream: AgentResponse, AgentRunUpdate, AgentUsage, AgentRequest.

Example::

    >>> from agentic_nb.llm import ChatMessage
    >>> r = AgentResponse(messages=[ChatMessage.assistant("done")], agent_id="a")
    >>> r.text, r.status
    ('done', 'completed')
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from agentic_nb.llm import ChatMessage, ToolCallContent, ToolCallDelta, ToolResultContent, Usage
from agentic_nb.workflow import AgentRunUpdate as _WorkflowAgentRunUpdate
from agentic_nb.workflow import WorkflowEvent, register_checkpoint_type

#: ``AgentResponse.status`` values.
COMPLETED = "completed"
MAX_TOOL_ROUNDS = "max_tool_rounds"
WAITING = "waiting"


@register_checkpoint_type
@dataclass
class AgentRequest:
    """A request for outside input raised while an agent ran (e.g. a workflow's
    ``request_info``); answer it with ``agent.respond(request_id, value)``.

    Example::

        >>> AgentRequest("r1", "approve", {"amount": 3}, "bool").request_id
        'r1'
    """

    request_id: str
    executor_id: str
    request: Any
    response_type_name: str = "Any"
    response_type: Any = field(default=Any, init=False, repr=False, compare=False)


@register_checkpoint_type
@dataclass
class AgentResponse:
    """The result of one ``agent.run``: new messages, usage, structured value, status.

    ``status`` is ``"completed"``, ``"max_tool_rounds"`` (the tool loop hit its
    limit; ``status_detail`` says which calls were pending) or ``"waiting"``
    (``pending_requests`` need answers). ``value`` holds the parsed structured
    output when the agent has a ``response_format``.

    Example::

        >>> from agentic_nb.llm import ChatMessage
        >>> AgentResponse(messages=[ChatMessage.assistant("hi", author_name="bot")]).author_name
        'bot'
    """

    messages: list[ChatMessage] = field(default_factory=list)
    agent_id: str = ""
    usage: Usage = field(default_factory=Usage)
    value: Any = None
    status: str = COMPLETED
    status_detail: str = ""
    pending_requests: list[AgentRequest] = field(default_factory=list)
    thread_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    response_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    @property
    def text(self) -> str:
        """Text of the last assistant message that has text ("" if none)."""
        for m in reversed(self.messages):
            if m.role == "assistant" and m.text:
                return m.text
        return ""

    @property
    def author_name(self) -> str | None:
        for m in reversed(self.messages):
            if m.role == "assistant":
                return m.author_name
        return None

    @property
    def tool_calls(self) -> list[ToolCallContent]:
        """Every tool call the model made during this run, in order."""
        return [c for m in self.messages for c in m.tool_calls]

    @property
    def tool_results(self) -> list[ToolResultContent]:
        return [c for m in self.messages for c in m.tool_results]

    @property
    def is_waiting(self) -> bool:
        return self.status == WAITING

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        text = self.text if len(self.text) <= 60 else self.text[:59] + "…"
        extra = f", pending={len(self.pending_requests)}" if self.pending_requests else ""
        return (
            f"AgentResponse(agent_id={self.agent_id!r}, status={self.status!r}, text={text!r}, "
            f"messages={len(self.messages)}, tool_calls={len(self.tool_calls)}, "
            f"usage={self.usage.total_tokens} tokens{extra})"
        )


@dataclass(kw_only=True, eq=False)
class AgentRunUpdate(_WorkflowAgentRunUpdate):
    """One streamed chunk of an agent run (also a workflow event inside workflows).

    ``text`` is a text delta; ``tool_call`` a tool-call delta (pieces with the
    same ``index`` form one call); ``tool_result`` a finished tool call's
    result; the last update has ``done=True`` and carries the full ``response``.

    Example::

        >>> u = AgentRunUpdate(text="Hel", agent_id="w", author_name="writer")
        >>> u.type, u.done
        ('AgentRunUpdate', False)
    """

    type: ClassVar[str] = "AgentRunUpdate"

    agent_id: str = ""
    author_name: str | None = None
    role: str = "assistant"
    tool_call: ToolCallDelta | None = None
    tool_result: ToolResultContent | None = None
    usage: Usage | None = None
    done: bool = False
    status: str = ""
    response: AgentResponse | None = None


@dataclass(kw_only=True, eq=False)
class AgentUsage(WorkflowEvent):
    """Tokens one agent invocation used inside a workflow (one event per invocation).

    Example::

        >>> AgentUsage(agent_id="w", input_tokens=3, output_tokens=4, total_tokens=7).type
        'AgentUsage'
    """

    agent_id: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    model: str | None = None
    #: Model calls the invocation made (tool rounds + 1 for a ChatAgent; 0: unknown).
    model_calls: int = 0
