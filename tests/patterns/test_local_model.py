"""Group chat and Magentic on the real local model (SmolLM2: weak, so only the
structure is asserted: who spoke, that the run ended for a stated reason)."""

from __future__ import annotations

import pytest

from agentic_nb.agents import AgentUsage, ChatAgent
from agentic_nb.llm import LocalChatClient, smollm2_path
from agentic_nb.patterns import (
    GroupChatBuilder,
    MagenticBuilder,
    MagenticPlan,
    keyword,
    llm_selector,
    max_rounds,
)
from agentic_nb.workflow import Custom

# Several model calls each; the machine may be busy: a generous per-test timeout.
pytestmark = [pytest.mark.llm, pytest.mark.timeout(1200)]


def local(
    name: str,
    instructions: str,
    description: str = "",
    max_tokens: int = 12,
    client: LocalChatClient | None = None,
) -> ChatAgent:
    return ChatAgent(
        client or LocalChatClient.default(),
        instructions,
        name=name,
        description=description,
        max_tokens=max_tokens,
        temperature=0.0,
    )


async def test_a_group_chat_with_an_llm_selector_on_the_local_model() -> None:
    poet = local("poet", "You write one short line of poetry.", "writes poems")
    critic = local("critic", "You give one short critique.", "critiques poems")
    selector = llm_selector(local("chair", "You pick who speaks next.", max_tokens=40))
    wf = (
        GroupChatBuilder([poet, critic], name="salon")
        .with_selection(selector)
        .with_termination(max_rounds(1) | keyword("THE END"))
        .build()
    )
    result = await wf.run("Write a line about the sea, then critique it.")
    assert result.status == "completed", result.error
    out = result.outputs[0]
    assert out.metadata["pattern"] == "group_chat"
    assert out.metadata["stop_reason"] in ("termination", "manager_finished")
    authors = [m.author_name for m in out.messages]
    assert len(authors) == 1 and set(authors) <= {"poet", "critic"}
    assert all(m.text for m in out.messages)
    # The selector was asked each round (its tokens are counted like everyone's).
    assert "chair" in {u.agent_id for u in result.events.of_type(AgentUsage)}


async def test_a_magentic_run_on_the_local_model() -> None:
    # A client of its own with fixed threads: greedy decoding then gives the same answers
    # whatever ran before (the shared client's cached prompts from other tests change the
    # numerics enough for SmolLM2 to loop inside a JSON string until max_tokens).
    fresh = LocalChatClient(smollm2_path(), n_threads=2)
    manager = local(
        "manager",
        "You lead a small team. Be brief: plans of two steps, instructions under ten words.",
        max_tokens=300,
        client=fresh,
    )
    researcher = local("researcher", "You state one fact.", "finds facts", client=fresh)
    writer = local("writer", "You write one sentence.", "writes text", client=fresh)
    wf = (
        MagenticBuilder(manager, [researcher, writer], name="team")
        .with_max_rounds(1)
        .with_stall_detection(max_stalls=1, max_replans=1)
        .build()
    )
    result = await wf.run("Write one sentence about the Moon.")
    assert result.status == "completed", result.error
    out = result.outputs[0]
    assert out.metadata["pattern"] == "magentic"
    assert out.metadata["stop_reason"] in ("finished", "max_rounds", "stalled")
    assert isinstance(out.metadata["plan"], list)
    plans = [e.data for e in result.events.of_type(Custom) if isinstance(e.data, MagenticPlan)]
    assert 1 <= len(plans) <= 2  # the first plan, at most one re-plan
    assert out.messages[0].author_name == "manager" and out.messages[0].text.startswith("Plan")
    assert out.messages[-1].author_name == "manager"  # the final answer
    assert {m.author_name for m in out.messages} <= {"manager", "researcher", "writer"}
