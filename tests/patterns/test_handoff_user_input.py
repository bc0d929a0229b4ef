"""Handoff: any Agent as participant (HANDOFF marker, decide_handoff) and the ask-the-user step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentic_nb.agents import AgentResponse, AgentRunUpdate, ChatAgent
from agentic_nb.llm import ScriptedChatClient
from agentic_nb.patterns import (
    Handoff,
    HandoffBuilder,
    HandoffUserInput,
    SequentialBuilder,
    UserReply,
)
from agentic_nb.workflow import Custom

from ._helpers import agent, only_output, requests, said

calls = ScriptedChatClient.calls


class Wrapped:
    """An agent that is not a ChatAgent: it forwards to one (name, id, run_stream)."""

    def __init__(self, inner: ChatAgent, decide: Any = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.id = inner.id
        self.description = inner.description
        self.tools: list[Any] = []
        if decide is not None:
            self.decide_handoff = decide

    async def run(self, messages: Any = None, **options: Any) -> AgentResponse:
        return await self.inner.run(messages, **options)

    def run_stream(self, messages: Any = None, **options: Any) -> AsyncIterator[AgentRunUpdate]:
        return self.inner.run_stream(messages, **options)


async def test_any_agent_hands_off_with_a_marker_line() -> None:
    inner = agent("triage", ["Sure, a refund.\nHANDOFF: billing"], "Route.")
    billing = agent("billing", ["Refund issued."], description="payments")
    result = await HandoffBuilder([Wrapped(inner), billing]).build().run("money back")
    out = only_output(result)
    # The marker is gone from the shared conversation; billing took over.
    assert said(out) == [("triage", "Sure, a refund."), ("billing", "Refund issued.")]
    assert [e.data for e in result.events.of_type(Custom)] == [Handoff("triage", "billing", "")]
    # The non-ChatAgent was told how to hand off, and to whom.
    [seen] = requests(inner)
    assert seen[0][0] == "system" and "Route." in seen[0][2]
    prompt = next(t for r, _, t in seen if r == "system" and "HANDOFF: <name>" in t)
    assert "- billing: payments" in prompt
    # A ChatAgent still gets tools, not the marker prompt.
    assert all("HANDOFF" not in t for _, _, t in requests(billing)[0])


async def test_a_workflow_as_agent_is_a_participant() -> None:
    inner = agent("writer", ["Draft done.\nHANDOFF: reviewer"])
    team = SequentialBuilder([inner], name="writing").build().as_agent("writing")
    reviewer = agent("reviewer", ["Looks good."])
    out = only_output(await HandoffBuilder([team, reviewer]).build().run("write"))
    assert [t for _, t in said(out)] == ["Draft done.", "Looks good."]
    assert out.metadata["handoffs"] == ["writing->reviewer"]


async def test_decide_handoff_picks_the_target() -> None:
    async def decide(response: AgentResponse) -> str | None:
        return "tech" if "broken" in response.text else None

    inner = agent("triage", ["Your device is broken."])
    tech = agent("tech", ["Replace the battery."])
    billing = agent("billing", [])
    wf = HandoffBuilder([Wrapped(inner, decide), billing, tech]).build()
    out = only_output(await wf.run("help"))
    assert out.metadata["handoffs"] == ["triage->tech"]
    assert all(r != "system" for r, _, _ in requests(inner)[0])  # no marker prompt


async def test_a_handoff_to_someone_not_allowed_fails_clearly() -> None:
    inner = agent("triage", ["HANDOFF: ceo"])
    result = await HandoffBuilder([Wrapped(inner), agent("billing", [])]).build().run("x")
    assert result.status == "failed"
    assert "asked to hand off to 'ceo'" in (result.error or "")
    assert "['billing']" in (result.error or "")
    bad = Wrapped(agent("triage", ["hi"]), decide=lambda r: "nobody")
    result = await HandoffBuilder([bad, agent("billing", [])]).build().run("x")
    assert result.status == "failed" and "decide_handoff returned 'nobody'" in (result.error or "")


async def test_the_user_is_asked_when_an_agent_answers_without_handing_off() -> None:
    triage = agent(
        "triage",
        [
            "Which order?",
            calls(("handoff_to_billing", {"reason": "refund order 42"})),
            "Passing you to billing.",
        ],
    )
    billing = agent("billing", ["Refunded order 42."])
    wf = HandoffBuilder([triage, billing]).with_user_input().build()
    run = wf.start("I want a refund")
    first = await run.until_idle()
    assert first.status == "waiting"
    [req] = run.pending_requests
    assert req.executor_id == "triage" and req.response_type is UserReply
    assert req.request == HandoffUserInput("triage", "Which order?", [])
    second = await run.respond(req.request_id, UserReply("order 42"))
    assert second.status == "waiting"
    [req2] = run.pending_requests
    assert req2.request.agent == "billing" and req2.request.handoffs == ["triage->billing"]
    # triage's second call saw the user's reply.
    assert ("user", None, "order 42") in requests(triage)[1]
    out = only_output(await run.respond(req2.request_id, UserReply(done=True)))
    assert out.metadata["stop_reason"] == "user_done"
    assert [(a, t) for a, t in said(out)] == [
        ("triage", "Which order?"),
        (None, "order 42"),
        ("triage", "Passing you to billing."),
        ("billing", "Refunded order 42."),
    ]


async def test_termination_and_max_turns_end_without_asking() -> None:
    a = agent("a", ["Anything else?", "Bye, ticket closed."])
    wf = (
        HandoffBuilder([a])
        .with_user_input(termination=lambda msgs: "closed" in msgs[-1].text)
        .build()
    )
    run = wf.start("hi")
    await run.until_idle()
    out = only_output(await run.respond(run.pending_requests[0].request_id, UserReply("no")))
    assert out.metadata["stop_reason"] == "termination"

    b = agent("b", ["q1", "q2"])
    run = HandoffBuilder([b]).with_user_input(max_turns=1).build().start("hi")
    await run.until_idle()
    out = only_output(await run.respond(run.pending_requests[0].request_id, UserReply("x")))
    assert out.metadata["stop_reason"] == "max_user_turns"
    with pytest.raises(ValueError, match="max_turns must be an int >= 1"):
        HandoffBuilder([b]).with_user_input(max_turns=0)
    with pytest.raises(TypeError, match="termination must be callable"):
        HandoffBuilder([b]).with_user_input(termination="stop")  # type: ignore[arg-type]


async def test_the_approval_card_replies_and_ends() -> None:
    from agentic_nb.widgets import RequestCard

    a = agent("a", ["Which order?", "Found it."])
    run = HandoffBuilder([a]).with_user_input().build().start("refund")
    await run.until_idle()
    card = RequestCard(run, run.pending_requests[0])
    card.form.inputs["text"].value = "order 7"
    card.submit.click()
    await card.last_task
    while not run.pending_requests or run.pending_requests[0].request.question != "Found it.":
        await asyncio.sleep(0.01)
    card2 = RequestCard(run, run.pending_requests[0])
    card2.approve.click()  # Approve: done
    await card2.last_task
    while run.status != "completed":
        await asyncio.sleep(0.01)
    assert run.outputs[0].metadata["stop_reason"] == "user_done"
