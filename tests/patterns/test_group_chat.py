"""GroupChatBuilder: round robin, termination, limits, selectors, manager agent, failures."""

from __future__ import annotations

import json

import pytest

from agentic_nb.agents import AgentUsage
from agentic_nb.llm import ChatMessage
from agentic_nb.patterns import GroupChatBuilder, GroupChatState, round_robin
from agentic_nb.workflow import ExecutorKind, Workflow

from ._helpers import (
    agent,
    check_as_agent,
    failed_executors,
    only_output,
    requests,
    said,
    streamed_by,
)


def coder_reviewer() -> tuple:
    return (
        agent("coder", ["v1", "v2", "v3"], "Code."),
        agent("reviewer", ["needs tests", "approved", "extra"], "Review."),
    )


async def test_round_robin_until_the_termination_condition() -> None:
    coder, reviewer = coder_reviewer()
    wf = (
        GroupChatBuilder([coder, reviewer], name="review")
        .with_termination(lambda msgs: msgs[-1].text == "approved")
        .build()
    )
    out = only_output(await wf.run("Write a sort"))
    assert said(out) == [
        ("coder", "v1"),
        ("reviewer", "needs tests"),
        ("coder", "v2"),
        ("reviewer", "approved"),
    ]
    assert out.metadata["stop_reason"] == "termination" and out.metadata["rounds"] == 4
    # The shared conversation: the coder's second turn saw everything so far.
    assert requests(coder)[1] == [
        ("system", None, "Code."),
        ("user", None, "Write a sort"),
        ("assistant", "coder", "v1"),
        ("user", "reviewer", "needs tests"),
    ]


async def test_max_rounds_is_a_safety_limit() -> None:
    coder, reviewer = coder_reviewer()
    out = only_output(await GroupChatBuilder([coder, reviewer]).with_max_rounds(3).build().run("x"))
    assert [a for a, _ in said(out)] == ["coder", "reviewer", "coder"]
    assert out.metadata["stop_reason"] == "max_rounds"


async def test_a_selection_function_sees_the_state_and_may_stop() -> None:
    researcher = agent("researcher", ["facts... research complete"])
    writer = agent("writer", ["the article"])
    states: list[GroupChatState] = []

    def smart(state: GroupChatState) -> str | None:
        states.append(state)
        if not state.conversation or state.conversation[-1].author_name is None:
            return "researcher"
        if "research complete" in state.conversation[-1].text:
            return "writer"
        return None

    out = only_output(
        await GroupChatBuilder([researcher, writer]).with_selection(smart).build().run("AI")
    )
    assert [a for a, _ in said(out)] == ["researcher", "writer"]
    assert out.metadata["stop_reason"] == "manager_finished"
    assert [s.round for s in states] == [0, 1, 2]
    assert states[0].participants == ("researcher", "writer")


async def test_an_async_selector_picking_an_unknown_name_fails_the_run_clearly() -> None:
    async def wrong(state: GroupChatState) -> str:
        return "nobody"

    coder, reviewer = coder_reviewer()
    result = await GroupChatBuilder([coder, reviewer]).with_selection(wrong).build().run("x")
    assert result.status == "failed"
    assert "picked 'nobody'" in (result.error or "") and "['coder', 'reviewer']" in (
        result.error or ""
    )


async def test_a_manager_agent_chooses_with_structured_output() -> None:
    coder, reviewer = coder_reviewer()
    choice = lambda name, done=False: json.dumps(  # noqa: E731
        {"next_speaker": name, "finished": done, "reason": "because"}
    )
    manager = agent("manager", [choice("reviewer"), choice("coder"), choice("", True)], "Lead.")
    wf = GroupChatBuilder([coder, reviewer]).with_selection(manager).build()
    result = await wf.run("Write a sort")
    out = only_output(result)
    assert said(out) == [("reviewer", "needs tests"), ("coder", "v1")]
    assert out.metadata["stop_reason"] == "manager_finished"
    fmt = manager.client.requests[0].response_format  # type: ignore[attr-defined]
    assert fmt.schema["properties"]["next_speaker"]["enum"] == ["coder", "reviewer", ""]
    # The manager saw the conversation, including the answers so far.
    assert ("user", "reviewer", "needs tests") in requests(manager)[1]
    assert "group_chat_manager" in streamed_by(result)
    # The output's usage counts every model call, the manager's included.
    usages = result.events.of_type(AgentUsage)
    assert {u.agent_id for u in usages} == {"manager", "coder", "reviewer"}
    assert out.usage.total_tokens == sum(u.total_tokens for u in usages)


async def test_a_manager_answer_that_is_not_a_choice_fails_the_run() -> None:
    coder, reviewer = coder_reviewer()
    manager = agent("manager", ['{"finished": false}'])
    result = await GroupChatBuilder([coder, reviewer]).with_selection(manager).build().run("x")
    assert result.status == "failed"
    assert "not a JSON object with next_speaker" in (result.error or "")


async def test_a_failing_participant_fails_the_run_and_is_named() -> None:
    coder = agent("coder", ["v1"])
    reviewer = agent("reviewer", [RuntimeError("reviewer model crashed")])
    result = await GroupChatBuilder([coder, reviewer]).build().run("x")
    assert result.status == "failed"
    assert failed_executors(result) == ["reviewer"]
    assert "reviewer model crashed" in (result.error or "")


async def test_is_a_normal_workflow_with_an_orchestrator_that_acts_as_an_agent() -> None:
    coder, reviewer = coder_reviewer()
    wf = GroupChatBuilder([coder, reviewer]).with_max_rounds(2).build()
    assert isinstance(wf, Workflow)
    assert wf.start_executor_id == "group_chat_manager"
    assert wf.executor("group_chat_manager").kind is ExecutorKind.ORCHESTRATOR
    assert len(wf.edges) == 4
    result = await wf.run([ChatMessage.user("go")])
    assert streamed_by(result) == {"coder", "reviewer"}
    coder2, reviewer2 = coder_reviewer()
    await check_as_agent(
        GroupChatBuilder([coder2, reviewer2]).with_max_rounds(2).build(), "go", "needs tests"
    )
    assert round_robin(GroupChatState(("a", "b", "c"), [], 4)) == "b"


def test_bad_configuration_is_rejected() -> None:
    coder, reviewer = coder_reviewer()
    with pytest.raises(ValueError, match="with_max_rounds needs an int >= 1"):
        GroupChatBuilder([coder]).with_max_rounds(0)
    with pytest.raises(TypeError, match="with_selection needs"):
        GroupChatBuilder([coder]).with_selection(3)
    with pytest.raises(ValueError, match="reserved"):
        GroupChatBuilder([agent("group_chat_manager", [])])
    with pytest.raises(TypeError, match="with_termination needs a callable"):
        GroupChatBuilder([reviewer]).with_termination(None)  # type: ignore[arg-type]
