"""Shared helpers of the pattern tests (agents over the ScriptedChatClient test double)."""

from __future__ import annotations

from typing import Any

from agentic_nb.agents import AgentResponse, AgentRunUpdate, ChatAgent
from agentic_nb.llm import ChatMessage, ScriptedChatClient
from agentic_nb.workflow import ExecutorFailed, Workflow, WorkflowResult


def agent(name: str, script: list[Any], instructions: str = "", **options: Any) -> ChatAgent:
    """A ChatAgent answering from ``script`` (ScriptedChatClient: a test double)."""
    return ChatAgent(ScriptedChatClient(script, chunk_size=3), instructions, name=name, **options)


def requests(a: ChatAgent) -> list[list[tuple[str, str | None, str]]]:
    """(role, author, text) of every message each model call of ``a`` received."""
    client = a.client
    assert isinstance(client, ScriptedChatClient)
    return [[(m.role, m.author_name, m.text) for m in r.messages] for r in client.requests]


def said(response: AgentResponse) -> list[tuple[str | None, str]]:
    return [(m.author_name, m.text) for m in response.messages]


def only_output(result: WorkflowResult) -> Any:
    assert result.status == "completed", result.error
    assert len(result.outputs) == 1, result.outputs
    return result.outputs[0]


def streamed_by(result: WorkflowResult) -> set[str]:
    """Executors that emitted token chunks (AgentRunUpdate with text)."""
    return {e.executor_id for e in result.events.of_type(AgentRunUpdate) if e.text}


def failed_executors(result: WorkflowResult) -> list[str]:
    return [e.executor_id for e in result.events.of_type(ExecutorFailed)]


async def check_as_agent(wf: Workflow, prompt: str, expected_text: str) -> None:
    """The workflow behind the Agent protocol answers with the pattern's last text."""
    response = await wf.as_agent("team").run(prompt)
    assert response.text == expected_text
    assert all(isinstance(m, ChatMessage) for m in response.messages)
