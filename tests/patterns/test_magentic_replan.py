"""Magentic: stall detection and re-planning, plan review by a human (request_info)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from agentic_nb.patterns import (
    MagenticBuilder,
    MagenticPlan,
    MagenticPlanReview,
    MagenticStall,
    MagenticStep,
    PlanReviewResponse,
    plan_steps,
)
from agentic_nb.workflow import Custom, InMemoryCheckpointStorage, RequestError

from ._helpers import agent, only_output, said


def plan(*steps: str) -> str:
    return json.dumps({"steps": list(steps)})


def step(speaker: str, instruction: str, progress: bool = True) -> str:
    return json.dumps(
        {
            "finished": False,
            "progress_made": progress,
            "next_speaker": speaker,
            "instruction": instruction,
            "reason": "next" if progress else "stuck",
        }
    )


DONE = json.dumps(
    {"finished": True, "progress_made": True, "next_speaker": "", "instruction": "", "reason": ""}
)


def team(manager_script: list[Any], n: int = 10) -> tuple:
    manager = agent("manager", manager_script, "Lead the team.")
    researcher = agent("researcher", [f"r{i}" for i in range(n)], description="finds facts")
    writer = agent("writer", [f"w{i}" for i in range(n)], description="writes copy")
    return manager, researcher, writer


def customs(result: Any, kind: type) -> list[Any]:
    return [e.data for e in result.events.of_type(Custom) if isinstance(e.data, kind)]


async def test_no_progress_for_n_rounds_triggers_a_replan() -> None:
    manager, researcher, writer = team(
        [
            plan("search the web"),
            step("researcher", "search A", progress=True),
            step("researcher", "search B", progress=False),
            step("researcher", "search C", progress=False),  # 2nd stall in a row: re-plan
            plan("ask the writer to estimate"),
            step("writer", "estimate it"),
            DONE,
            "Final: estimated.",
        ]
    )
    wf = MagenticBuilder(manager, [researcher, writer]).with_stall_detection(max_stalls=2).build()
    result = await wf.run("Find the market size")
    out = only_output(result)
    assert out.metadata["stop_reason"] == "finished"
    assert out.metadata["replans"] == 1
    assert out.metadata["plan"] == ["ask the writer to estimate"]
    assert customs(result, MagenticStall) == [MagenticStall(2, 2, "replan", "stuck")]
    assert customs(result, MagenticPlan) == [
        MagenticPlan(["search the web"], 0),
        MagenticPlan(["ask the writer to estimate"], 1),
    ]
    # The stalled step was not handed out: the re-plan replaced it.
    assert [s.instruction for s in customs(result, MagenticStep)] == [
        "search A",
        "search B",
        "estimate it",
    ]
    texts = [t for _, t in said(out)]
    assert "Revised plan:\n1. ask the writer to estimate" in texts
    # The manager was told why it re-plans.
    replan_prompt = manager.client.requests[4].messages[-1].text  # type: ignore[attr-defined]
    assert "no progress for 2 rounds (stuck)" in replan_prompt
    assert "progress_made" in manager.client.requests[1].response_format.schema["required"]  # type: ignore[attr-defined]


async def test_repeating_the_same_assignment_counts_as_a_stall() -> None:
    manager, researcher, writer = team(
        [
            plan("a"),
            step("researcher", "look it up"),
            step("researcher", "look it up"),  # the manager says progress, but loops
            plan("b"),
            DONE,
            "Final.",
        ]
    )
    wf = MagenticBuilder(manager, [researcher, writer]).with_stall_detection(max_stalls=1).build()
    result = await wf.run("task")
    out = only_output(result)
    assert out.metadata["replans"] == 1 and out.metadata["stop_reason"] == "finished"
    assert [s.action for s in customs(result, MagenticStall)] == ["replan"]


async def test_replans_are_bounded_then_the_run_stops_with_the_final_answer() -> None:
    manager, researcher, writer = team(
        [
            plan("a"),
            step("researcher", "x", progress=False),  # stall -> re-plan 1
            plan("b"),
            step("writer", "y", progress=False),  # stall, re-plans used up -> stop
            "Best effort.",
        ]
    )
    wf = (
        MagenticBuilder(manager, [researcher, writer])
        .with_stall_detection(max_stalls=1, max_replans=1)
        .build()
    )
    result = await wf.run("task")
    out = only_output(result)
    assert out.metadata["stop_reason"] == "stalled"
    assert out.text == "Best effort."
    assert [s.action for s in customs(result, MagenticStall)] == ["replan", "stop"]
    assert researcher.client.requests == [] and writer.client.requests == []  # type: ignore[attr-defined]


async def test_stall_detection_can_be_turned_off() -> None:
    manager, researcher, writer = team(
        [plan("a")] + [step("researcher", "same", progress=False)] * 3 + ["Final."]
    )
    wf = (
        MagenticBuilder(manager, [researcher, writer])
        .with_stall_detection(None)
        .with_max_rounds(3)
        .build()
    )
    out = only_output(await wf.run("task"))
    assert out.metadata["stop_reason"] == "max_rounds" and out.metadata["replans"] == 0


async def test_plan_review_approve_keeps_the_plan() -> None:
    manager, researcher, writer = team([plan("research", "write"), DONE, "Final."])
    wf = MagenticBuilder(manager, [researcher, writer]).with_plan_review().build()
    run = wf.start("Launch line")
    first = await run.until_idle()
    assert first.status == "waiting"
    [req] = run.pending_requests
    assert req.executor_id == "magentic_manager"
    review = req.request
    assert isinstance(review, MagenticPlanReview)
    assert review.steps == ["research", "write"] and review.task == "Launch line"
    assert review.plan == "1. research\n2. write"
    assert req.response_type is PlanReviewResponse
    # The manager has not been asked for progress yet: it waits for the human.
    assert len(manager.client.requests) == 1  # type: ignore[attr-defined]
    done = await run.respond(req.request_id, PlanReviewResponse(approved=True))
    out = only_output(done)
    assert out.metadata["plan"] == ["research", "write"]
    assert said(out)[0] == ("manager", "Plan:\n1. research\n2. write")
    assert len(manager.client.requests) == 3  # type: ignore[attr-defined]


async def test_plan_review_edit_replaces_the_plan() -> None:
    manager, researcher, writer = team([plan("research", "write"), DONE, "Final."])
    wf = MagenticBuilder(manager, [researcher, writer]).with_plan_review().build()
    run = wf.start("Launch line")
    await run.until_idle()
    [req] = run.pending_requests
    edited = PlanReviewResponse(
        approved=True, plan="1. write\n2. check the budget", feedback="budget first"
    )
    result = await run.respond(req.request_id, edited)
    out = only_output(result)
    assert out.metadata["plan"] == ["write", "check the budget"]
    assert customs(result, MagenticPlan)[-1] == MagenticPlan(
        ["write", "check the budget"], 0, "reviewer"
    )
    # The manager's progress check saw the edited plan and the reviewer's note.
    seen = [m.text for m in manager.client.requests[1].messages]  # type: ignore[attr-defined]
    assert "Plan review: budget first" in seen
    assert "Plan:\n1. write\n2. check the budget" in seen


async def test_plan_review_reject_makes_the_manager_replan_then_asks_again() -> None:
    manager, researcher, writer = team([plan("guess"), plan("research", "write"), DONE, "Final."])
    wf = MagenticBuilder(manager, [researcher, writer]).with_plan_review().build()
    run = wf.start("task")
    await run.until_idle()
    [req] = run.pending_requests
    with pytest.raises(RequestError):
        await run.respond(req.request_id, True)  # the answer must be a PlanReviewResponse
    second = await run.respond(
        req.request_id, PlanReviewResponse(approved=False, feedback="do research")
    )
    assert second.status == "waiting"
    [req2] = run.pending_requests
    assert req2.request.steps == ["research", "write"]
    replan_msgs = [m.text for m in manager.client.requests[1].messages]  # type: ignore[attr-defined]
    assert "Plan rejected by the reviewer: do research" in replan_msgs
    out = only_output(await run.respond(req2.request_id, PlanReviewResponse()))
    assert out.metadata["plan"] == ["research", "write"]


async def test_rejections_are_bounded() -> None:
    manager, researcher, writer = team([plan("a"), plan("b")])
    wf = MagenticBuilder(manager, [researcher, writer]).with_plan_review(max_revisions=2).build()
    run = wf.start("task")
    await run.until_idle()
    no = PlanReviewResponse(approved=False, feedback="no")
    await run.respond(run.pending_requests[0].request_id, no)
    out = only_output(await run.respond(run.pending_requests[0].request_id, no))
    assert out.metadata["stop_reason"] == "plan_rejected"
    assert out.metadata["feedback"] == "no"


async def test_plan_review_survives_a_restart_from_the_checkpoint() -> None:
    storage = InMemoryCheckpointStorage()
    manager, researcher, writer = team([plan("research"), step("researcher", "go"), DONE, "F."])
    wf = (
        MagenticBuilder(manager, [researcher, writer])
        .with_plan_review()
        .build(checkpoint_storage=storage)
    )
    first = await wf.run("task")
    assert first.status == "waiting"
    [req] = first.pending_requests
    # A new process: the same workflow resumes the run and the answer goes through.
    run = wf.resume(first.run_id)
    out = only_output(await run.respond(req.request_id, PlanReviewResponse()))
    assert said(out)[2] == ("researcher", "r0")
    assert len(manager.client.requests) == 4  # type: ignore[attr-defined]  # plan asked once


async def test_the_approval_card_approves_edits_and_rejects_plans() -> None:
    from agentic_nb.widgets import RequestCard

    manager, researcher, writer = team([plan("a", "b"), plan("c"), DONE, "Final."])
    wf = MagenticBuilder(manager, [researcher, writer]).with_plan_review().build()
    run = wf.start("task")
    await run.until_idle()
    card = RequestCard(run, run.pending_requests[0])
    assert not card.approve.disabled and not card.reject.disabled
    # The edit form opens with the proposed plan, ready to change.
    assert card.form.inputs["plan"].value == "1. a\n2. b"
    card.reason.value = "needs c"
    card.reject.click()
    await card.last_task
    while not run.pending_requests or run.pending_requests[0].request.steps != ["c"]:
        await asyncio.sleep(0.01)
    card2 = RequestCard(run, run.pending_requests[0])
    card2.form.inputs["plan"].value = "1. c\n2. d"
    card2.submit.click()
    await card2.last_task
    while run.status != "completed":
        await asyncio.sleep(0.01)
    out = run.outputs[0]
    assert out.metadata["plan"] == ["c", "d"]
    assert "Plan rejected by the reviewer: needs c" in [
        m.text
        for m in manager.client.requests[1].messages  # type: ignore[attr-defined]
    ]


def test_plan_steps_and_bad_settings() -> None:
    assert plan_steps("Revised plan:\n 1) a \n* b\n\n") == ["a", "b"]
    manager, researcher, _ = team([])
    with pytest.raises(ValueError, match="max_stalls must be an int >= 1 or None"):
        MagenticBuilder(manager, [researcher]).with_stall_detection(0)
    with pytest.raises(ValueError, match="max_replans must be an int >= 0"):
        MagenticBuilder(manager, [researcher]).with_stall_detection(2, -1)
    with pytest.raises(ValueError, match="max_revisions must be an int >= 1"):
        MagenticBuilder(manager, [researcher]).with_plan_review(max_revisions=0)
