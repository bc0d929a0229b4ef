"""The agent layer: agents, tools, threads, memory, reducers, agents in workflows.

An agent manages a conversation (``run`` / ``run_stream``); a workflow executor
does one unit of work. Giving an agent to ``WorkflowBuilder`` wraps it in an
:class:`AgentExecutor`; ``wf.as_agent(name)`` turns a workflow into an agent.

Example::

    >>> import asyncio
    >>> from agentic_nb.agents import ChatAgent, tool
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> @tool
    ... def weather(city: str) -> str:
    ...     '''Current weather of a city.'''
    ...     return f"sunny in {city}"
    >>> client = ScriptedChatClient([ScriptedChatClient.calls(("weather", {"city": "Oslo"})),
    ...                              "It is sunny in Oslo."])
    >>> agent = ChatAgent(client, "Answer with the tools.", name="meteo", tools=[weather])
    >>> thread = agent.new_thread()
    >>> asyncio.run(agent.invoke("Weather in Oslo?", thread)).text
    'It is sunny in Oslo.'
    >>> len(thread.messages)
    4
"""

from agentic_nb.llm import (
    ChatMessage,
    DataContent,
    TextContent,
    ToolCallContent,
    ToolResultContent,
    Usage,
)

from ._background import (
    BackgroundStatus,
    BackgroundStore,
    ContinuationToken,
    FileBackgroundStore,
    TokenError,
    poll,
    resume_stream,
    set_default_background_store,
    start_background,
    wait,
)
from ._base import Agent, BaseAgent
from ._chat_agent import ChatAgent, tool_result_text
from ._executor import AgentExecutor, AgentExecutorResponse
from ._memory import (
    DEFAULT_HALF_LIFE,
    DEFAULT_IMPORTANCE,
    InMemoryMemoryProvider,
    Memory,
    MemoryCategory,
    MemoryContext,
    MemoryProvider,
    NoOpMemoryProvider,
    add_memories_to,
    as_category,
    extract_memories,
    memory_score,
    merge_memories,
    rank_memories,
)
from ._reducers import (
    ChatReducer,
    MessageCountingReducer,
    NoOpReducer,
    SlidingWindowReducer,
    SummarizingReducer,
    TokenCountingReducer,
    group_units,
)
from ._thread import AgentThread, ChatMessageStore, InMemoryChatMessageStore
from ._tools import FunctionTool, ToolArgumentsError, ToolDefinitionError, parse_docstring, tool
from ._types import (
    COMPLETED,
    MAX_TOOL_ROUNDS,
    WAITING,
    AgentRequest,
    AgentResponse,
    AgentRunUpdate,
    AgentUsage,
)
from ._workflow_agent import WorkflowAgent, WorkflowAsAgent, output_text, workflow_as_agent

__all__ = [
    "COMPLETED",
    "DEFAULT_HALF_LIFE",
    "DEFAULT_IMPORTANCE",
    "MAX_TOOL_ROUNDS",
    "WAITING",
    "Agent",
    "AgentExecutor",
    "AgentExecutorResponse",
    "AgentRequest",
    "AgentResponse",
    "AgentRunUpdate",
    "AgentThread",
    "AgentUsage",
    "BackgroundStatus",
    "BackgroundStore",
    "BaseAgent",
    "ChatAgent",
    "ChatMessage",
    "ChatMessageStore",
    "ChatReducer",
    "ContinuationToken",
    "DataContent",
    "FileBackgroundStore",
    "FunctionTool",
    "InMemoryChatMessageStore",
    "InMemoryMemoryProvider",
    "Memory",
    "MemoryCategory",
    "MemoryContext",
    "MemoryProvider",
    "MessageCountingReducer",
    "NoOpMemoryProvider",
    "NoOpReducer",
    "SlidingWindowReducer",
    "SummarizingReducer",
    "TextContent",
    "TokenCountingReducer",
    "TokenError",
    "ToolArgumentsError",
    "ToolCallContent",
    "ToolDefinitionError",
    "ToolResultContent",
    "Usage",
    "WorkflowAgent",
    "WorkflowAsAgent",
    "add_memories_to",
    "as_category",
    "extract_memories",
    "group_units",
    "memory_score",
    "merge_memories",
    "output_text",
    "parse_docstring",
    "poll",
    "rank_memories",
    "resume_stream",
    "set_default_background_store",
    "start_background",
    "tool",
    "tool_result_text",
    "wait",
    "workflow_as_agent",
]
