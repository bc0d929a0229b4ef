"""ConcurrentBuilder: same input to all, order, partial failures, aggregators, workflow traits."""

from __future__ import annotations

import pytest

from agentic_nb.agents import AgentResponse
from agentic_nb.patterns import ConcurrentBuilder, ParticipantResult
from agentic_nb.workflow import Log, SuperstepStarted, Workflow

from ._helpers import agent, check_as_agent, only_output, requests, said, streamed_by


def experts() -> tuple:
    slow = agent("research", ["Demand is up."], "Research.")
    slow.client.delay = 0.05  # type: ignore[attr-defined]
    return slow, agent("marketing", ["Say 'freedom'."]), agent("legal", ["Check EU rules."])


async def test_every_participant_gets_the_same_input_and_answers_keep_participant_order() -> None:
    research, marketing, legal = experts()
    wf = ConcurrentBuilder([research, marketing, legal], name="launch").build()
    result = await wf.run("We launch an eBike")
    out = only_output(result)
    assert isinstance(out, AgentResponse)
    # research is the slowest, yet comes first: order is the participants' order.
    assert said(out) == [
        ("research", "Demand is up."),
        ("marketing", "Say 'freedom'."),
        ("legal", "Check EU rules."),
    ]
    assert out.metadata["failed"] == {} and out.metadata["pattern"] == "concurrent"
    assert [r.participant for r in out.value] == ["research", "marketing", "legal"]
    for a in (marketing, legal):
        assert requests(a) == [[("user", None, "We launch an eBike")]]
    # All three ran in one superstep (dispatch, participants, aggregator).
    assert len(result.events.of_type(SuperstepStarted)) == 3


async def test_a_failing_participant_is_reported_and_the_others_are_kept() -> None:
    research, _, legal = experts()
    broken = agent("marketing", [RuntimeError("quota exceeded")])
    result = await ConcurrentBuilder([research, broken, legal]).build().run("go")
    out = only_output(result)
    assert said(out) == [("research", "Demand is up."), ("legal", "Check EU rules.")]
    assert list(out.metadata["failed"]) == ["marketing"]
    assert "quota exceeded" in out.metadata["failed"]["marketing"]
    assert out.metadata["succeeded"] == ["research", "legal"]
    [failure] = [r for r in out.value if not r.ok]
    assert failure.participant == "marketing" and failure.response is None
    warnings = [e for e in result.events.of_type(Log) if e.level == "warning"]
    assert warnings and warnings[0].executor_id == "marketing"


async def test_when_every_participant_fails_the_run_fails_listing_them() -> None:
    a = agent("a", [RuntimeError("a is down")])
    b = agent("b", [RuntimeError("b is down")])
    result = await ConcurrentBuilder([a, b], name="both").build().run("go")
    assert result.status == "failed"
    assert "every participant failed" in (result.error or "")
    assert "a is down" in (result.error or "") and "b is down" in (result.error or "")


async def test_a_custom_aggregator_receives_every_result() -> None:
    research, marketing, legal = experts()
    seen: list[list[ParticipantResult]] = []

    async def vote(results: list[ParticipantResult]) -> str:
        seen.append(results)
        return " | ".join(f"{r.participant}={r.text}" for r in results)

    wf = ConcurrentBuilder([research, marketing, legal]).with_aggregator(vote).build()
    out = only_output(await wf.run("go"))
    assert out == "research=Demand is up. | marketing=Say 'freedom'. | legal=Check EU rules."
    assert [len(s) for s in seen] == [3]


async def test_an_aggregator_may_refuse_too_many_failures() -> None:
    def strict(results: list[ParticipantResult]) -> list[str]:
        failed = [r for r in results if not r.ok]
        if len(failed) > len(results) - len(failed):
            raise RuntimeError(f"too many failures: {len(failed)}")
        return [r.text for r in results if r.ok]

    a = agent("a", ["fine"])
    b, c = agent("b", [RuntimeError("x")]), agent("c", [RuntimeError("y")])
    result = await ConcurrentBuilder([a, b, c]).with_aggregator(strict).build().run("go")
    assert result.status == "failed" and "too many failures: 2" in (result.error or "")


async def test_an_agent_aggregator_synthesises_the_answers() -> None:
    research, marketing, _ = experts()
    broken = agent("legal", [RuntimeError("offline")])
    editor = agent("editor", ["Go: demand is up, say freedom."], "Consolidate.")
    wf = ConcurrentBuilder([research, marketing, broken]).with_aggregator(editor).build()
    result = await wf.run("We launch an eBike")
    out = only_output(result)
    assert out.text == "Go: demand is up, say freedom."
    [seen] = requests(editor)
    assert seen[:2] == [("system", None, "Consolidate."), ("user", None, "We launch an eBike")]
    assert seen[2:4] == [
        ("user", "research", "Demand is up."),
        ("user", "marketing", "Say 'freedom'."),
    ]
    assert seen[4][1] == "legal" and seen[4][2].startswith("(failed: ")
    assert "aggregator" in streamed_by(result)


async def test_is_a_normal_workflow_that_streams_and_acts_as_an_agent() -> None:
    research, marketing, legal = experts()
    wf = ConcurrentBuilder([research, marketing, legal]).build()
    assert isinstance(wf, Workflow)
    assert [e.id for e in wf.executors] == [
        "dispatch",
        "research",
        "marketing",
        "legal",
        "aggregator",
    ]
    assert wf.executor("dispatch").kind.value == "orchestrator"
    assert sorted(type(e).__name__ for e in wf.edges) == ["FanInEdge", "FanOutEdge"]
    result = await wf.run("go")
    assert streamed_by(result) == {"research", "marketing", "legal"}
    single = ConcurrentBuilder([agent("only", ["alone"])]).build()
    assert only_output(await single.run("go")).text == "alone"
    await check_as_agent(
        ConcurrentBuilder([agent("x", ["one"]), agent("y", ["two"])]).build(), "go", "two"
    )


def test_bad_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="reserved"):
        ConcurrentBuilder([agent("dispatch", []), agent("b", [])]).build()
    with pytest.raises(TypeError, match="with_aggregator needs a callable"):
        ConcurrentBuilder([agent("a", [])]).with_aggregator(42)
    with pytest.raises(ValueError, match="at least 1"):
        ConcurrentBuilder([])
