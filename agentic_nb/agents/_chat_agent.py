"""ChatAgent: a chat client plus instructions, tools, memory and a history reducer.

Example::

    >>> import asyncio
    >>> from agentic_nb.agents import ChatAgent, tool
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> @tool
    ... def add(a: int, b: int) -> int:
    ...     '''Add two integers.'''
    ...     return a + b
    >>> client = ScriptedChatClient([ScriptedChatClient.calls(("add", {"a": 2, "b": 3})), "5"])
    >>> agent = ChatAgent(client, instructions="Use tools.", name="calc", tools=[add])
    >>> r = asyncio.run(agent.run("2+3?"))
    >>> r.text, r.tool_results[0].result
    ('5', '5')
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agentic_nb import _instrumentation
from agentic_nb.llm import (
    ChatClient,
    ChatMessage,
    ChatResponse,
    ResponseFormat,
    ToolCallContent,
    ToolResultContent,
    Usage,
    as_messages,
    assemble_response,
)

from ._base import BaseAgent
from ._memory import MemoryContext, MemoryProvider
from ._reducers import ChatReducer
from ._thread import AgentThread, ChatMessageStore
from ._tools import FunctionTool, ToolArgumentsError, as_tool
from ._types import COMPLETED, MAX_TOOL_ROUNDS, AgentResponse, AgentRunUpdate


class ChatAgent(BaseAgent):
    """An agent over a chat client with an automatic tool-call loop.

    Each run: the thread's history plus the new messages (through ``reducer``),
    preceded by ``instructions`` and whatever ``memory`` injects, go to the model.
    When the model asks for tools, they run concurrently; a tool that raises, an
    unknown tool name or arguments that fail validation become error results the
    model sees (the run goes on). After ``max_tool_rounds`` rounds of tool calls
    the loop stops with ``status="max_tool_rounds"``. With ``response_format`` (a
    pydantic model) the final answer is parsed into ``response.value``.

    Example::

        >>> from agentic_nb.llm import ScriptedChatClient
        >>> agent = ChatAgent(ScriptedChatClient(["Bonjour"]), instructions="French.", name="fr")
        >>> asyncio.run(agent.invoke("Hello")).text
        'Bonjour'
    """

    def __init__(
        self,
        client: ChatClient,
        instructions: str = "",
        *,
        name: str | None = None,
        id: str | None = None,
        description: str = "",
        tools: Sequence[FunctionTool | Any] = (),
        response_format: Any = None,
        memory: MemoryProvider | None = None,
        reducer: ChatReducer | None = None,
        max_tool_rounds: int = 8,
        tool_choice: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        message_store: ChatMessageStore | None = None,
    ) -> None:
        super().__init__(name=name, id=id, description=description)
        if not isinstance(client, ChatClient):
            raise TypeError(
                f"ChatAgent {self.name!r}: client must be a ChatClient (OpenAIChatClient, "
                f"LocalChatClient, ...), got {type(client).__name__}"
            )
        if max_tool_rounds < 0:
            raise ValueError(
                f"ChatAgent {self.name!r}: max_tool_rounds must be >= 0, got {max_tool_rounds}"
            )
        self.client = client
        self.instructions = instructions
        self._tools: list[FunctionTool] = [as_tool(t) for t in tools]
        names = [t.name for t in self._tools]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"ChatAgent {self.name!r}: two tools are named {dupes}; rename one")
        self._by_name = {t.name: t for t in self._tools}
        self.response_format = (
            ResponseFormat.of(response_format) if response_format is not None else None
        )
        self.memory = memory
        self.reducer = reducer
        self.max_tool_rounds = max_tool_rounds
        self.tool_choice = tool_choice
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.message_store = message_store

    @property
    def tools(self) -> Sequence[FunctionTool]:
        return tuple(self._tools)

    # ------------------------------------------------------------------ run
    async def _updates(
        self,
        messages: Any,
        *,
        thread: AgentThread | None,
        stream: bool,
        **options: Any,
    ) -> AsyncIterator[AgentRunUpdate]:
        new = as_messages(messages, where=f"agent {self.name!r}")
        if thread is None:
            thread = AgentThread(agent_id=self.id)
        elif thread.agent_id not in (None, self.id):
            raise ValueError(
                f"thread {thread.id!r} belongs to agent {thread.agent_id!r}, not {self.id!r}: "
                f"use {self.name!r}.new_thread(), or set thread.agent_id if the agents are "
                f"compatible (same tools and message format)"
            )
        history = await thread.get_messages()
        ctx = MemoryContext()
        if self.memory is not None:
            await self.memory.before_invoke(self.id, thread, new, ctx)
        rf = options.pop("response_format", None)
        response_format = ResponseFormat.of(rf) if rf is not None else self.response_format
        view = [*history, *new]
        if self.reducer is not None:
            view = await self.reducer.reduce(view)
        prefix: list[ChatMessage] = []
        instructions = "\n\n".join(s for s in [self.instructions, *ctx.extra_instructions] if s)
        if instructions:
            prefix.append(ChatMessage.system(instructions))
        prefix.extend(ctx.system_messages)

        call_options: dict[str, Any] = {
            "tools": [t.spec for t in self._tools],
            "tool_choice": self.tool_choice if self._tools else None,
            "response_format": response_format,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        call_options.update(options)

        produced: list[ChatMessage] = []
        usage = Usage()
        rounds = 0
        status, detail = COMPLETED, ""
        value: Any = None
        model: str | None = None
        calls_made = 0
        while True:
            request = [*prefix, *view, *produced]
            if stream:
                updates = []
                async for u in self.client.get_streaming_response(request, **call_options):
                    updates.append(u)
                    if u.text:
                        yield self._update(text=u.text)
                    for d in u.tool_calls:
                        yield self._update(tool_call=d)
                response = assemble_response(updates)
                if response_format is not None and not response.tool_calls:
                    response.value = response_format.parse(
                        response.text, self.client.provider, self.client.model
                    )
            else:
                response = await self.client.get_response(request, **call_options)
            calls_made += 1
            usage = usage + response.usage
            model = response.model or model
            message = _authored(response, self.name)
            produced.append(message)
            calls = message.tool_calls
            if not calls:
                value = response.value
                break
            if rounds >= self.max_tool_rounds:
                status = MAX_TOOL_ROUNDS
                pending = ", ".join(c.name for c in calls)
                detail = (
                    f"agent {self.name!r} stopped after {rounds} tool round(s) "
                    f"(max_tool_rounds={self.max_tool_rounds}) with tool calls still pending: "
                    f"{pending}; raise max_tool_rounds or make the instructions more direct"
                )
                skipped = [
                    ToolResultContent(c.call_id, f"not executed: {detail}", c.name, True)
                    for c in calls
                ]
                produced.append(ChatMessage("tool", contents=list(skipped)))
                break
            rounds += 1
            results = await asyncio.gather(*(self._run_tool(c) for c in calls))
            produced.append(ChatMessage("tool", contents=list(results)))
            for r in results:
                yield self._update(role="tool", tool_result=r)

        final = AgentResponse(
            messages=produced,
            agent_id=self.id,
            usage=usage,
            value=value,
            status=status,
            status_detail=detail,
            thread_id=thread.id,
            metadata={"model": model, "tool_rounds": rounds, "model_calls": calls_made},
        )
        await thread.add_messages([*new, *produced])
        if self.memory is not None:
            await self.memory.after_invoke(self.id, thread, new, final)
        yield self._update(done=True, response=final, usage=usage, status=status)

    def _update(self, **fields: Any) -> AgentRunUpdate:
        return AgentRunUpdate(agent_id=self.id, author_name=self.name, **fields)

    async def _run_tool(self, call: ToolCallContent) -> ToolResultContent:
        inst = _instrumentation.ACTIVE
        if inst is None:
            return await self._call_tool(call)
        result: ToolResultContent = await inst.tool(self, call, lambda: self._call_tool(call))
        return result

    async def _call_tool(self, call: ToolCallContent) -> ToolResultContent:
        tool = self._by_name.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self._by_name)) or "none"
            return ToolResultContent(
                call.call_id,
                f"error: there is no tool named {call.name!r} (available: {known})",
                call.name,
                True,
            )
        if not call.arguments_valid:
            return ToolResultContent(
                call.call_id,
                f"error: the arguments for {call.name!r} are not a JSON object: "
                f"{(call.raw_arguments or '')[:200]!r}. Call it again with a JSON object "
                f"matching {json.dumps(tool.parameters)}",
                call.name,
                True,
            )
        try:
            result = await tool.invoke(call.arguments)
        except ToolArgumentsError as exc:
            return ToolResultContent(call.call_id, f"error: {exc}", call.name, True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return ToolResultContent(
                call.call_id,
                f"error: tool {call.name!r} raised {type(exc).__name__}: {exc}",
                call.name,
                True,
            )
        return ToolResultContent(call.call_id, tool_result_text(result), call.name, False)


def _authored(response: ChatResponse, name: str) -> ChatMessage:
    msg = response.message
    msg.author_name = name
    return msg


def tool_result_text(value: Any) -> str:
    """How a tool's return value is shown to the model (text, or JSON for data).

    Example::

        >>> tool_result_text({"a": 1}), tool_result_text("ok")
        ('{"a": 1}', 'ok')
    """
    if isinstance(value, str):
        return value
    dump = getattr(value, "model_dump_json", None)
    if callable(dump):
        return str(dump())
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)
