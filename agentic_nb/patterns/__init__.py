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
from ._group_chat import GroupChatBuilder, GroupChatState, round_robin
from ._handoff import Handoff, HandoffBuilder, handoff_tool_name
from ._magentic import MagenticBuilder, MagenticPlan, MagenticStep
from ._sequential import SequentialBuilder

__all__ = [
    "ConcurrentBuilder",
    "GroupChatBuilder",
    "GroupChatState",
    "Handoff",
    "HandoffBuilder",
    "MagenticBuilder",
    "MagenticPlan",
    "MagenticStep",
    "ParticipantResult",
    "SequentialBuilder",
    "handoff_tool_name",
    "round_robin",
]
