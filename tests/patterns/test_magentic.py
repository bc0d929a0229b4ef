"""MagenticBuilder: plan, delegated steps, progress checks, limits, bad manager answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentic_nb.patterns import MagenticBuilder, MagenticPlan, MagenticStep
from agentic_nb.workflow import Custom, ExecutorKind, Workflow

from ._helpers import (
    agent,
    check_as_agent,
    failed_executors,
    only_output,
    requests,
    said,
    streamed_by,
)


def plan(*steps: str) -> str:
    return json.dumps({"steps": list(steps)})


def step(speaker: str, instruction: str) -> str:
    return json.dumps(
        {"finished": False, "next_speaker": speaker, "instruction": instruction, "reason": "next"}
    )


DONE = json.dumps({"finished": True, "next_speaker": "", "instruction": "", "reason": "done"})


def team(manager_script: list[Any]) -> tuple:
    manager = agent("manager", manager_script, "Lead the team.")
    researcher = agent("researcher", ["eBikes sell 20% more."], description="finds facts")
    writer = agent("writer", ["eBikes: 20% growth!"], description="writes copy")
    return manager, researcher, writer


async def test_plan_then_steps_then_final_answer() -> None:
    manager, researcher, writer = team(
        [
            plan("research the market", "write the copy"),
            step("researcher", "Find the growth figure."),
            step("writer", "Write one line with it."),
            DONE,
            "Final: eBikes: 20% growth!",
        ]
    )
    wf = MagenticBuilder(manager, [researcher, writer], name="launch").build()
    result = await wf.run("Write a launch line")
    out = only_output(result)
    assert out.text == "Final: eBikes: 20% growth!"
    assert out.metadata["plan"] == ["research the market", "write the copy"]
    assert out.metadata["stop_reason"] == "finished" and out.metadata["rounds"] == 2
    assert said(out) == [
        ("manager", "Plan:\n1. research the market\n2. write the copy"),
        ("manager", "researcher: Find the growth figure."),
        ("researcher", "eBikes sell 20% more."),
        ("manager", "writer: Write one line with it."),
        ("writer", "eBikes: 20% growth!"),
        ("manager", "Final: eBikes: 20% growth!"),
    ]
    # The writer saw the task, the plan, the research and its own instruction.
    [seen] = requests(writer)
    assert [(r, a) for r, a, _ in seen] == [
        ("user", None),
        ("user", "manager"),
        ("user", "manager"),
        ("user", "researcher"),
        ("user", "manager"),
    ]
    # Structured output was requested: a plan schema, then a ledger naming the team.
    client = manager.client
    assert client.requests[0].response_format.schema["required"] == ["steps"]  # type: ignore[attr-defined]
    enum = client.requests[1].response_format.schema["properties"]["next_speaker"]["enum"]  # type: ignore[attr-defined]
    assert enum == ["researcher", "writer", ""]
    assert client.requests[4].response_format is None  # type: ignore[attr-defined]
    assert "researcher (finds facts)" in client.requests[0].messages[-1].text  # type: ignore[attr-defined]
    customs = [e.data for e in result.events.of_type(Custom)]
    assert customs == [
        MagenticPlan(["research the market", "write the copy"]),
        MagenticStep(1, "researcher", "Find the growth figure.", "next"),
        MagenticStep(2, "writer", "Write one line with it.", "next"),
    ]


async def test_max_rounds_forces_the_final_answer() -> None:
    manager, researcher, writer = team([plan("a"), step("researcher", "go"), "Best effort answer."])
    wf = MagenticBuilder(manager, [researcher, writer]).with_max_rounds(1).build()
    out = only_output(await wf.run("task"))
    assert out.metadata["stop_reason"] == "max_rounds"
    assert out.text == "Best effort answer."
    assert requests(writer) == []


async def test_a_plan_that_is_not_the_requested_json_fails_the_run_clearly() -> None:
    manager, researcher, writer = team(["I will just wing it.", "Still winging it."])
    result = await MagenticBuilder(manager, [researcher, writer]).build().run("task")
    assert result.status == "failed"  # asked twice (one retry), then a clear failure
    assert "StructuredOutputError" in (result.error or "")
    assert len(manager.client.requests) == 2
    manager, researcher, writer = team(['{"todo": []}'])
    result = await MagenticBuilder(manager, [researcher, writer]).build().run("task")
    assert result.status == "failed"
    assert "when asked for a plan; expected a JSON object with 'steps'" in (result.error or "")


async def test_an_unknown_speaker_fails_the_run_listing_the_team() -> None:
    bad = json.dumps({"finished": False, "next_speaker": "ghost", "instruction": "x", "reason": ""})
    manager, researcher, writer = team([plan("a"), bad])
    result = await MagenticBuilder(manager, [researcher, writer]).build().run("task")
    assert result.status == "failed"
    assert "picked 'ghost'" in (result.error or "")
    assert "['researcher', 'writer']" in (result.error or "")


async def test_a_failing_participant_fails_the_run_and_is_named() -> None:
    manager, _, writer = team([plan("a"), step("researcher", "go")])
    researcher = agent("researcher", [RuntimeError("search is down")])
    result = await MagenticBuilder(manager, [researcher, writer]).build().run("task")
    assert result.status == "failed"
    assert failed_executors(result) == ["researcher"]


async def test_is_a_normal_workflow_that_streams_and_acts_as_an_agent() -> None:
    script = [plan("a"), step("writer", "write"), DONE, "Done: eBikes: 20% growth!"]
    manager, researcher, writer = team(list(script))
    wf = MagenticBuilder(manager, [researcher, writer]).build()
    assert isinstance(wf, Workflow)
    assert wf.executor("magentic_manager").kind is ExecutorKind.ORCHESTRATOR
    result = await wf.run("task")
    assert streamed_by(result) == {"magentic_manager", "writer"}
    m2, r2, w2 = team(list(script))
    await check_as_agent(MagenticBuilder(m2, [r2, w2]).build(), "task", "Done: eBikes: 20% growth!")


def test_bad_configuration_is_rejected() -> None:
    manager, researcher, writer = team([])
    with pytest.raises(ValueError, match="also a participant"):
        MagenticBuilder(manager, [manager, writer])
    with pytest.raises(TypeError, match="the manager must be an agent"):
        MagenticBuilder("boss", [writer])
    with pytest.raises(ValueError, match="with_max_rounds"):
        MagenticBuilder(manager, [researcher]).with_max_rounds(-1)


async def test_a_cut_off_json_answer_is_asked_again_once() -> None:
    # A small model can run out of tokens in the middle of its JSON.
    manager, researcher, writer = team(
        [
            plan("research"),
            '{"finished": false, "next_speaker": "researcher", "instruction": "Find the fig',
            step("researcher", "Find the figure."),
            DONE,
            "Final answer.",
        ]
    )
    result = await MagenticBuilder(manager, [researcher, writer], name="m").build().run("task")
    out = only_output(result)
    assert out.text == "Final answer." and out.metadata["stop_reason"] == "finished"
    retry = manager.client.requests[2].messages[-1].text
    assert "could not be read as JSON" in retry
    logs = [e for e in result.events if type(e).__name__ == "Log"]
    assert any("unreadable JSON" in e.message for e in logs)
