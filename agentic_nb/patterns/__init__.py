"""Ready-made orchestration patterns; each builder returns a normal ``Workflow``.

Example::

    >>> from agentic_nb.agents import ChatAgent
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> from agentic_nb.patterns import SequentialBuilder
    >>> a = ChatAgent(ScriptedChatClient(["one"]), name="a")
    >>> SequentialBuilder([a]).build().run_sync("go").outputs[0].text
    'one'
"""

from ._concurrent import ConcurrentBuilder, ParticipantResult
from ._group_chat import GroupChatBuilder
from ._handoff import Handoff, HandoffBuilder, HandoffUserInput, UserReply, handoff_tool_name
from ._magentic import (
    MagenticBuilder,
    MagenticPlan,
    MagenticPlanReview,
    MagenticStall,
    MagenticStep,
    PlanReviewResponse,
    plan_steps,
)
from ._selection import (
    GroupChatState,
    LLMSelector,
    Termination,
    all_of,
    all_termination,
    any_of,
    any_termination,
    keyword,
    llm_selector,
    max_messages,
    max_rounds,
    no_repeat,
    no_repeat_selector,
    round_robin,
    round_robin_selector,
    smart,
    smart_selector,
)
from ._sequential import SequentialBuilder

__all__ = [
    "ConcurrentBuilder",
    "GroupChatBuilder",
    "GroupChatState",
    "Handoff",
    "HandoffBuilder",
    "HandoffUserInput",
    "LLMSelector",
    "MagenticBuilder",
    "MagenticPlan",
    "MagenticPlanReview",
    "MagenticStall",
    "MagenticStep",
    "ParticipantResult",
    "PlanReviewResponse",
    "SequentialBuilder",
    "Termination",
    "UserReply",
    "all_of",
    "all_termination",
    "any_of",
    "any_termination",
    "handoff_tool_name",
    "keyword",
    "llm_selector",
    "max_messages",
    "max_rounds",
    "no_repeat",
    "no_repeat_selector",
    "plan_steps",
    "round_robin",
    "round_robin_selector",
    "smart",
    "smart_selector",
]
