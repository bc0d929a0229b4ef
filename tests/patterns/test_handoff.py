"""HandoffBuilder: generated handoff tools, routing, limits, events, failures, workflow traits."""

from __future__ import annotations

import pytest

from agentic_nb.agents import ChatAgent
from agentic_nb.llm import ScriptedChatClient
from agentic_nb.patterns import Handoff, HandoffBuilder, handoff_tool_name
from agentic_nb.workflow import Custom, Workflow, WorkflowValidationError

from ._helpers import (
    agent,
    check_as_agent,
    failed_executors,
    only_output,
    requests,
    said,
    streamed_by,
)

calls = ScriptedChatClient.calls


def support_desk() -> tuple:
    triage = agent(
        "triage",
        [calls(("handoff_to_billing", {"reason": "refund"})), "Passing you to billing."],
        "Route the user.",
    )
    billing = agent("billing", ["Refund issued."], "Handle payments.", description="payments")
    tech = agent("tech", ["Have you tried turning it off?"], "Fix things.")
    return triage, billing, tech


def tools_offered(a: ChatAgent, call: int = 0) -> list[str]:
    return [t.name for t in a.client.requests[call].tools]  # type: ignore[attr-defined]


async def test_control_passes_to_the_agent_handed_off_to() -> None:
    triage, billing, tech = support_desk()
    wf = (
        HandoffBuilder([triage, billing, tech], name="desk")
        .add_handoff(triage, [billing, tech])
        .build()
    )
    result = await wf.run("I want my money back")
    out = only_output(result)
    assert out.text == "Refund issued."
    assert said(out) == [("triage", "Passing you to billing."), ("billing", "Refund issued.")]
    assert out.metadata == {
        "pattern": "handoff",
        "stop_reason": "answered",
        "rounds": 1,
        "handoffs": ["triage->billing"],
    }
    assert tools_offered(triage) == ["handoff_to_billing", "handoff_to_tech"]
    assert tools_offered(billing) == []  # billing may not hand off anywhere
    assert requests(tech) == []
    # billing saw the user and triage's visible answer, not triage's tool traffic.
    assert requests(billing)[0] == [
        ("system", None, "Handle payments."),
        ("user", None, "I want my money back"),
        ("user", "triage", "Passing you to billing."),
    ]
    [event] = [e for e in result.events.of_type(Custom) if isinstance(e.data, Handoff)]
    assert event.data == Handoff("triage", "billing", "refund")
    assert event.executor_id == "triage"


async def test_the_generated_tools_describe_their_target_and_leave_originals_alone() -> None:
    triage, billing, _ = support_desk()
    wf = HandoffBuilder([triage, billing]).add_handoff("triage", ["billing"]).build()
    assert triage.tools == ()  # the builder works on copies
    await wf.run("refund please")
    [spec] = triage.client.requests[0].tools  # type: ignore[attr-defined]
    assert spec.name == "handoff_to_billing"
    assert spec.description == "Hand the conversation over to billing: payments"
    assert "reason" in spec.parameters["properties"]
    assert handoff_tool_name("Billing Team") == "handoff_to_Billing_Team"


async def test_without_add_handoff_every_agent_may_hand_off_to_every_other() -> None:
    triage, billing, tech = support_desk()
    await HandoffBuilder([triage, billing, tech]).build().run("money")
    assert tools_offered(triage) == ["handoff_to_billing", "handoff_to_tech"]
    assert tools_offered(billing) == ["handoff_to_triage", "handoff_to_tech"]


async def test_max_handoffs_stops_a_ping_pong() -> None:
    ping = agent("ping", [calls(("handoff_to_pong", {})), "to pong"] * 3)
    pong = agent("pong", [calls(("handoff_to_ping", {})), "to ping"] * 3)
    wf = HandoffBuilder([ping, pong]).with_max_handoffs(2).build()
    out = only_output(await wf.run("play"))
    assert out.metadata["stop_reason"] == "max_handoffs"
    assert out.metadata["handoffs"] == ["ping->pong", "pong->ping"]
    assert [a for a, _ in said(out)] == ["ping", "pong", "ping"]


async def test_with_start_chooses_who_receives_the_input() -> None:
    triage, billing, tech = support_desk()
    wf = HandoffBuilder([triage, billing, tech]).with_start(tech).build()
    assert wf.start_executor_id == "tech"
    out = only_output(await wf.run("it is broken"))
    assert out.text == "Have you tried turning it off?" and requests(triage) == []


async def test_a_failing_participant_fails_the_run_and_is_named() -> None:
    triage, _, tech = support_desk()
    billing = agent("billing", [RuntimeError("billing API down")])
    result = await HandoffBuilder([triage, billing, tech]).build().run("money")
    assert result.status == "failed"
    assert failed_executors(result) == ["billing"]
    assert "billing API down" in (result.error or "")


async def test_is_a_normal_workflow_that_streams_and_acts_as_an_agent() -> None:
    triage, billing, tech = support_desk()
    wf = HandoffBuilder([triage, billing, tech]).add_handoff(triage, [billing, tech]).build()
    assert isinstance(wf, Workflow)
    assert {e.describe() for e in wf.edges} and len(wf.edges) == 2
    result = await wf.run("money")
    assert streamed_by(result) == {"triage", "billing"}
    t2, b2, x2 = support_desk()
    await check_as_agent(HandoffBuilder([t2, b2, x2]).build(), "money", "Refund issued.")


def test_bad_configuration_is_rejected() -> None:
    triage, billing, _ = support_desk()
    with pytest.raises(ValueError, match="'nobody' is not a participant"):
        HandoffBuilder([triage, billing]).add_handoff(triage, ["nobody"])
    with pytest.raises(ValueError, match="cannot hand off to itself"):
        HandoffBuilder([triage, billing]).add_handoff(triage, [triage])
    with pytest.raises(ValueError, match="with_max_handoffs"):
        HandoffBuilder([triage]).with_max_handoffs(-1)
    with pytest.raises(
        WorkflowValidationError, match=r"unreachable from start 'triage': \['tech'\]"
    ):
        HandoffBuilder([triage, billing, agent("tech", [])]).add_handoff(triage, [billing]).build()
