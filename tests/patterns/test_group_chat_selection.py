"""Group chat selectors (no_repeat, smart, llm_selector) and termination conditions."""

from __future__ import annotations

import json

import pytest

from agentic_nb.agents import AgentUsage
from agentic_nb.llm import ChatMessage, ScriptedChatClient
from agentic_nb.patterns import (
    GroupChatBuilder,
    GroupChatState,
    all_of,
    any_of,
    any_termination,
    keyword,
    llm_selector,
    max_messages,
    max_rounds,
    no_repeat,
    no_repeat_selector,
    round_robin,
    round_robin_selector,
    smart,
    smart_selector,
)
from agentic_nb.workflow import Log

from ._helpers import agent, only_output, requests, said


def trio() -> tuple:
    return (
        agent("researcher", ["r1", "r2", "r3"], description="finds facts, sources and data"),
        agent("writer", ["w1", "w2", "w3"], description="writes articles and poems"),
        agent("critic", ["c1", "c2", "c3"], description="reviews drafts and finds flaws"),
    )


def choice(name: str, finished: bool = False) -> str:
    return json.dumps({"next_speaker": name, "finished": finished, "reason": "r"})


def warnings(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.message for e in result.events.of_type(Log) if e.level == "warning"]


def test_spec_names_are_the_same_functions() -> None:
    assert round_robin_selector is round_robin
    assert no_repeat_selector is no_repeat
    assert smart_selector is smart
    assert any_termination is any_of


async def test_no_repeat_follows_who_actually_spoke() -> None:
    r, w, c = trio()
    # The input already holds an answer by the writer: no_repeat starts with the
    # researcher, never gives the writer two turns in a row, then the least recent.
    history = [
        ChatMessage.user("topic: eBikes"),
        ChatMessage.assistant("earlier draft", author_name="writer"),
    ]
    wf = GroupChatBuilder([r, w, c]).with_selection(no_repeat).with_max_rounds(4).build()
    out = only_output(await wf.run(history))
    assert [a for a, _ in said(out)] == ["researcher", "critic", "writer", "researcher"]
    # round_robin, by contrast, ignores who spoke: it would start with the researcher
    # and then the writer regardless.
    state = GroupChatState(("a", "b"), [ChatMessage.assistant("x", author_name="a")], 0)
    assert no_repeat(state) == "b" and round_robin(state) == "a"


async def test_smart_picks_by_description_and_skills_and_never_repeats() -> None:
    r, w, c = trio()
    r.skills = ["statistics"]  # type: ignore[attr-defined]
    wf = GroupChatBuilder([r, w, c]).with_selection(smart).with_termination(max_rounds(1)).build()
    out = only_output(await wf.run("Find statistics on eBike sales"))
    assert said(out) == [("researcher", "r1")]
    out = only_output(await wf.run("Please write a poem about bikes"))
    assert said(out) == [("writer", "w1")]
    # A participant named in the message wins over word overlap.
    state = GroupChatState(
        ("researcher", "writer", "critic"),
        [ChatMessage.user("critic, write the facts")],
        0,
        {"researcher": "finds facts", "writer": "writes", "critic": "reviews"},
    )
    assert smart(state) == "critic"
    # The last speaker is not picked again while someone else matches; no match at
    # all falls back to no_repeat (least recently heard).
    state = GroupChatState(
        ("researcher", "writer"),
        [ChatMessage.user("go"), ChatMessage.assistant("more facts", author_name="researcher")],
        1,
        {"researcher": "finds facts", "writer": "writes facts up"},
        start=1,
    )
    assert smart(state) == "writer"
    nothing = GroupChatState(("a", "b"), [ChatMessage.user("zzz")], 0, {"a": "x", "b": "y"})
    assert smart(nothing) == "a"


async def test_llm_selector_uses_structured_output_and_stops_when_finished() -> None:
    r, w, c = trio()
    selector_client = ScriptedChatClient([choice("writer"), choice("critic"), choice("", True)])
    wf = GroupChatBuilder([r, w, c]).with_selection(llm_selector(selector_client)).build()
    result = await wf.run("Write a tagline")
    out = only_output(result)
    assert said(out) == [("writer", "w1"), ("critic", "c1")]
    assert out.metadata["stop_reason"] == "manager_finished"
    first = selector_client.requests[0]
    assert first.response_format is not None
    assert first.response_format.schema["properties"]["next_speaker"]["enum"] == [
        "researcher",
        "writer",
        "critic",
        "",
    ]
    assert "writer (writes articles and poems)" in first.messages[-1].text
    # The selector's tokens count in the output's usage.
    usages = result.events.of_type(AgentUsage)
    assert {u.agent_id for u in usages} == {"selector", "writer", "critic"}
    assert out.usage.total_tokens == sum(u.total_tokens for u in usages)
    assert warnings(result) == []


async def test_llm_selector_falls_back_when_the_answer_names_no_participant() -> None:
    r, w, c = trio()
    selector = agent(
        "boss",
        [
            "I am not sure who should talk.",  # not JSON, no name: fallback
            choice("nobody"),  # JSON naming no participant: fallback
            "critic should go now",  # not JSON but names exactly one participant
            choice("", True),
        ],
    )
    wf = (
        GroupChatBuilder([r, w, c])
        .with_selection(llm_selector(selector, fallback=round_robin))
        .build()
    )
    result = await wf.run("task")
    out = only_output(result)
    assert [a for a, _ in said(out)] == ["researcher", "writer", "critic"]
    notes = warnings(result)
    assert len(notes) == 2
    assert "names no participant" in notes[0] and "round_robin picked 'researcher'" in notes[0]
    assert '"next_speaker": "nobody"' in notes[1]
    # The selector saw the conversation so far (answers as user messages).
    assert ("user", "researcher", "r1") in requests(selector)[1]


async def test_llm_selector_default_fallback_is_no_repeat() -> None:
    r, w, c = trio()
    selector = ScriptedChatClient([choice("writer"), "??", choice("", True)])
    wf = GroupChatBuilder([r, w, c]).with_selection(llm_selector(selector)).build()
    out = only_output(await wf.run("task"))
    assert [a for a, _ in said(out)] == ["writer", "researcher"]


async def test_max_messages_counts_the_whole_conversation() -> None:
    r, w, c = trio()
    wf = GroupChatBuilder([r, w, c]).with_termination(max_messages(3)).build()
    out = only_output(await wf.run("task"))
    assert [a for a, _ in said(out)] == ["researcher", "writer"]
    assert out.metadata["stop_reason"] == "termination"
    assert out.metadata["terminated_by"] == "max_messages(3)"


async def test_max_rounds_termination() -> None:
    r, w, c = trio()
    out = only_output(
        await GroupChatBuilder([r, w, c]).with_termination(max_rounds(2)).build().run("t")
    )
    assert len(said(out)) == 2 and out.metadata["terminated_by"] == "max_rounds(2)"


async def test_keyword_termination_is_case_insensitive_and_may_name_an_author() -> None:
    coder = agent("coder", ["v1 approved?", "v2"])
    reviewer = agent("reviewer", ["needs tests", "APPROVED"])
    wf = (
        GroupChatBuilder([coder, reviewer])
        .with_termination(keyword("approved", author="reviewer"))
        .build()
    )
    out = only_output(await wf.run("Write a sort"))
    # The coder's "approved?" does not count: only the reviewer's word ends the chat.
    assert [t for _, t in said(out)] == ["v1 approved?", "needs tests", "v2", "APPROVED"]
    assert out.metadata["terminated_by"] == "keyword 'approved'"
    # The input is not an answer: a keyword in the task does not stop the chat at once.
    coder2 = agent("coder", ["v1"])
    out = only_output(
        await GroupChatBuilder([coder2])
        .with_termination(keyword("approved") | max_rounds(1))
        .build()
        .run("say approved")
    )
    assert said(out) == [("coder", "v1")] and out.metadata["terminated_by"] == "max_rounds(1)"
    with pytest.raises(ValueError, match="non-empty strings"):
        keyword()


async def test_any_of_and_all_of_combine_conditions_and_callables() -> None:
    r, w, c = trio()

    async def critic_spoke(conversation: list[ChatMessage]) -> bool:
        return any(m.author_name == "critic" for m in conversation)

    cond = all_of(max_rounds(2), critic_spoke)
    out = only_output(await GroupChatBuilder([r, w, c]).with_termination(cond).build().run("t"))
    assert [a for a, _ in said(out)] == ["researcher", "writer", "critic"]
    assert out.metadata["terminated_by"] == "max_rounds(2) and critic_spoke"

    r, w, c = trio()
    cond2 = any_of(keyword("w2"), max_messages(100))
    out = only_output(await GroupChatBuilder([r, w, c]).with_termination(cond2).build().run("t"))
    assert [t for _, t in said(out)][-1] == "w2"
    assert out.metadata["terminated_by"] == "keyword 'w2'"
    # Combined with operators; a sync check works for sync conditions only.
    state = GroupChatState(("a",), [ChatMessage.user("x")], 5)
    assert (max_rounds(5) & max_messages(1)).check(state) == "max_rounds(5) and max_messages(1)"
    assert (max_rounds(9) | max_messages(9)).check(state) is None
    with pytest.raises(TypeError, match="is async"):
        cond.check(state)
    assert repr(cond2) == "any_of(keyword('w2'), max_messages(100))"


def test_bad_selectors_and_conditions_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_messages needs an int >= 1"):
        max_messages(0)
    with pytest.raises(ValueError, match="max_rounds needs an int >= 1"):
        max_rounds(-1)
    with pytest.raises(ValueError, match="any_of needs at least one"):
        any_of()
    with pytest.raises(TypeError, match="a termination condition must be"):
        any_of(3)
    with pytest.raises(TypeError, match="llm_selector needs an agent or a chat client"):
        llm_selector("gpt")
    with pytest.raises(TypeError, match="fallback must be a selector"):
        llm_selector(ScriptedChatClient([]), fallback=None)  # type: ignore[arg-type]
