"""Agent chains over ScriptedChatClient (a test double: it replays scripted answers)."""

from __future__ import annotations

from typing import Any

from agentic_nb import WorkflowBuilder
from agentic_nb.agents import ChatAgent
from agentic_nb.llm import ScriptedChatClient


def chain(
    names: tuple[str, ...] = ("a", "b", "c"),
    *,
    storage: Any = None,
    model: str = "model-x",
) -> Any:
    """a → b → c, each agent answering once with a fixed text (scripted, deterministic)."""
    agents = [
        ChatAgent(ScriptedChatClient([f"answer from {n} " * 3] * 4, model=model), name=n)
        for n in names
    ]
    b = WorkflowBuilder(name="chain", start=agents[0], checkpoint_storage=storage)
    for x, y in zip(agents, agents[1:]):
        b.add_edge(x, y)
    return b.build()
