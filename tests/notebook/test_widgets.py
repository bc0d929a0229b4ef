"""Widget logic, headless: drive Button.click() and read trait values."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.widgets import (
    ApprovalPanel,
    CheckpointBrowser,
    LiveRunWidget,
    Stepper,
    live_run,
    state_diff,
)
from agentic_nb.widgets._common import driver_of
from agentic_nb.workflow import FileCheckpointStorage, InMemoryCheckpointStorage

from .flows import Decision, Review, approval_workflow, chain, flaky_workflow, routing_workflow


def _fills(svg: str) -> dict[str, str]:
    """Executor title -> fill of its shape in a rendered graph."""
    out = {}
    for m in re.finditer(r'<g id="n\d+" class="node">\s*<title>(.*?)</title>(.*?)</g>', svg, re.S):
        fill = re.search(r'fill="(#[0-9a-f]{6})"', m.group(2))
        if fill:
            out[m.group(1)] = fill.group(1)
    return out


# ------------------------------------------------------------------ live widget


async def test_live_widget_returns_at_once_and_follows_the_run() -> None:
    wf = routing_workflow()
    run = wf.start(3)
    widget = live_run(run)
    assert isinstance(widget, LiveRunWidget)
    assert run.status == "created"  # nothing ran yet: the cell returned at once
    await widget.wait()
    assert run.status == "completed"
    assert 'data-status="completed"' in widget.status.value
    assert widget.progress.value == run.superstep and widget.progress.bar_style == "success"
    drawn = widget.graph.states_by_id()
    assert drawn["start"] == drawn["pos"] == drawn["total"] == "done"
    assert drawn["neg"] == drawn["check"] == "skipped"
    assert 'data-executor="a" data-state="done"' in widget.executors.value
    assert "9" in widget.outputs.value


async def test_run_live_and_show_delegate_to_the_widget() -> None:
    wf = chain(3)
    widget = wf.run_live(0)
    assert isinstance(widget, LiveRunWidget)
    result = await widget.wait()
    assert result.outputs == [3]
    again = widget.run.show()  # showing a finished run does not run it again
    assert again.driver is None and again.run.outputs == [3]


async def test_live_widget_shows_failures_and_errors() -> None:
    run = flaky_workflow().start(1)
    widget = live_run(run)
    await widget.wait()
    assert run.status == "failed"
    assert 'data-executor="broken" data-state="failed"' in widget.executors.value
    assert "RuntimeError: cannot handle 1" in widget.executors.value
    assert widget.progress.bar_style == "danger"
    assert widget.graph.states_by_id()["broken"] == "failed"


async def test_updates_are_throttled_to_about_ten_per_second() -> None:
    run = chain(60, delay=0.01).start(0)
    t0 = time.perf_counter()
    widget = live_run(run)
    await widget.wait()
    elapsed = time.perf_counter() - t0
    assert run.status == "completed" and elapsed > 0.6
    # 60 supersteps x ~8 events; unthrottled this would be hundreds of redraws
    assert widget.redraws <= elapsed * 10 + 3, (widget.redraws, elapsed)
    assert widget.redraws >= 3  # but it did update while running


async def test_live_widget_without_a_running_loop_does_not_drive() -> None:
    def build() -> LiveRunWidget:
        return live_run(chain(2).start(0))

    widget = await asyncio.to_thread(build)  # a thread without an event loop
    assert widget.driver is None and widget.run.status == "created"


# ------------------------------------------------------------------- approvals


async def _waiting(response_type: Any, **kw: Any) -> Any:
    run = approval_workflow(response_type, **kw).start("cats")
    await run.until_idle()
    assert run.status == "waiting"
    return run


async def test_approve_a_structured_request_with_a_reason() -> None:
    run = await _waiting(Review)
    panel = ApprovalPanel(run)
    (card,) = panel.cards.values()
    assert "A post about cats" in card.payload.value
    assert set(card.form.inputs) == {"approved", "reason", "score"}
    card.reason.value = "lovely"
    card.approve.click()
    assert card.approve.disabled and card.reject.disabled and card.submit.disabled
    await card.last_task
    while run.status != "completed":
        await asyncio.sleep(0.01)
    assert run.outputs == ["A post about cats -> Review(approved=True, reason='lovely', score=0)"]
    assert card.answered and "approved" in card.status.value
    assert card.approve.disabled  # stays disabled after a successful submit


async def test_reject_a_string_request() -> None:
    run = await _waiting(str)
    panel = ApprovalPanel(run)
    (card,) = panel.cards.values()
    card.reason.value = "off topic"
    card.reject.click()
    await card.last_task
    await asyncio.sleep(0.05)
    assert run.outputs == ["A post about cats -> 'rejected: off topic'"]


async def test_edit_form_builds_a_dataclass_response() -> None:
    run = await _waiting(Decision)
    (card,) = ApprovalPanel(run).cards.values()
    assert card.form_box.layout.display == "none"
    card.edit.click()
    assert card.form_box.layout.display is None
    assert card.form.inputs["ok"].value is True  # starts ticked
    card.reason.value = "ship it"  # the comment field is the card's one reason box
    card.submit.click()
    await card.last_task
    await asyncio.sleep(0.05)
    assert run.outputs == ["A post about cats -> Decision(ok=True, comment='ship it')"]


async def test_wrong_type_shows_in_the_card_and_the_request_stays_pending() -> None:
    run = await _waiting(int)
    (card,) = ApprovalPanel(run).cards.values()
    assert card.approve.disabled  # int: Approve/Reject cannot build a value, only Edit
    card.form.inputs["value"].value = 7
    # simulate a wrong value reaching run.respond: bypass the typed form
    card._send("seven", "edited")
    await card.last_task
    assert "RequestError" in card.error.value and "still pending" in card.error.value
    assert not card.submit.disabled and not card.answered
    assert [p.request_id for p in run.pending_requests] == [card.request_id]
    card.submit.click()  # the typed form value is accepted
    await card.last_task
    await asyncio.sleep(0.05)
    assert run.outputs == ["A post about cats -> 7"]


async def test_invalid_pydantic_form_value_keeps_request_pending() -> None:
    run = await _waiting(Review)
    (card,) = ApprovalPanel(run).cards.values()
    card._send({"approved": "not a bool at all", "score": "x"}, "edited")
    await card.last_task
    assert "Review" in card.error.value and run.status == "waiting"


async def test_live_widget_embeds_approval_cards() -> None:
    run = approval_workflow(bool).start("dogs")
    widget = live_run(run)
    await widget.wait()
    assert run.status == "waiting" and 'data-state="waiting"' in widget.executors.value
    assert widget.graph.states_by_id()["review"] == "waiting"
    (card,) = widget.approvals.cards.values()
    card.approve.click()
    await card.last_task
    await widget.wait()
    while run.status != "completed":
        await asyncio.sleep(0.01)
    await widget.wait()
    assert run.outputs == ["A post about dogs -> True"]
    assert widget.graph.states_by_id()["review"] == "done"


# --------------------------------------------------------------------- stepper


async def test_step_runs_exactly_one_superstep_and_shows_the_queue() -> None:
    run = chain(3).start(0)
    s = Stepper(run)
    assert "s0" in s.queued.value and "(input)" in s.queued.value
    s.step_button.click()
    assert s.step_button.disabled  # busy while the step runs
    await s.last_task
    assert run.superstep == 1 and s.last_report.executors == ["s0"]
    assert "s1" in s.queued.value
    assert s.graph.states_by_id()["s0"] == "done"
    assert s.graph.states_by_id()["s1"] == "pending"
    s.step_button.click()
    await s.last_task
    assert run.superstep == 2 and run.status != "completed"
    s.run_button.click()
    await s.last_task
    assert run.status == "completed" and run.outputs == [3]
    await asyncio.sleep(0)
    assert s.step_button.disabled and s.run_button.disabled
    assert "3" in s.outputs.value


async def test_stepper_shows_state_and_fan_in_buffers() -> None:
    run = approval_workflow(bool).start("cats")
    s = Stepper(run)
    s.step_button.click()
    await s.last_task
    assert "topic" in s.state.value and "cats" in s.state.value


async def test_pause_and_resume() -> None:
    run = chain(40, delay=0.01).start(0)
    s = Stepper(run)
    s.run_button.click()
    await asyncio.sleep(0.1)
    assert not s.pause_button.disabled
    s.pause_button.click()
    await s.last_task
    paused_at = run.superstep
    assert 0 < paused_at < 40 and run.status != "completed"
    await asyncio.sleep(0.05)
    assert run.superstep == paused_at  # nothing runs while paused
    assert not s.resume_button.disabled
    s.resume_button.click()
    await s.last_task
    assert run.status == "completed" and run.outputs == [40]


# ----------------------------------------------------------------- checkpoints


def test_state_diff() -> None:
    assert state_diff({"a": 1, "gone": 0}, {"a": 2, "new": 1}) == [
        ["changed", "a", 1, 2],
        ["removed", "gone", 0, ""],
        ["added", "new", "", 1],
    ]


async def test_checkpoint_browser_lists_diffs_and_forks_with_edited_state() -> None:
    @executor(id="setup")
    def setup(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.set_state("factor", 2)
        ctx.send_message(n)

    @executor(id="scale")
    def scale(n: int, ctx: WorkflowContext[None, int]) -> None:
        ctx.yield_output(n * ctx.get_state("factor"))

    store = InMemoryCheckpointStorage()
    wf = WorkflowBuilder(name="scale", start=setup, checkpoint_storage=store)
    wf = wf.add_edge(setup, scale).build()
    run = wf.start(21)
    await run.until_idle()
    assert run.outputs == [42]
    browser = CheckpointBrowser(run)
    await browser.last_task
    labels = [label for label, _ in browser.select.options]
    assert len(labels) == len(await run.history()) == 3
    assert labels[0].startswith("superstep 0 ·") and "1 queued · 0 pending" in labels[0]
    assert labels[2].startswith("superstep 2 ·") and labels[2].endswith("completed")
    assert browser.checkpoint.checkpoint_id == browser.select.options[2][1]  # latest chosen
    first, second = browser.select.options[0][1], browser.select.options[1][1]
    browser.select.value = first
    await browser.last_task
    assert "empty state" in browser.state.value and "first checkpoint" in browser.diff.value
    assert "(input)" in browser.queue.value
    # the checkpoint after 'setup': factor was added, a message for 'scale' is queued
    browser.select.value = second
    await browser.last_task
    assert "factor" in browser.state.value and "added" in browser.diff.value
    assert "setup-&gt;scale" in browser.queue.value
    browser.editor.value = '{"factor": 10}'
    browser.fork_button.click()
    assert browser.new_run is not None
    await browser.live.wait()
    assert browser.new_run.outputs == [210]
    assert browser.new_run.run_id != run.run_id
    # Resume from the same (not latest) checkpoint: re-runs 'scale' with the saved state
    browser.resume_button.click()
    await browser.live.wait()
    assert browser.new_run.outputs == [42] and browser.new_run.status == "completed"


async def test_after_a_kernel_restart_the_pending_request_shows_again(tmp_path: Any) -> None:
    # First "kernel": the run asks and we go away without answering.
    run = approval_workflow(bool, checkpoint_storage=FileCheckpointStorage(tmp_path)).start("x")
    await run.until_idle()
    assert run.status == "waiting"
    run_id = run.run_id
    del run
    # Second "kernel": a new workflow object and storage resume the run from disk.
    wf = approval_workflow(bool, checkpoint_storage=FileCheckpointStorage(tmp_path))
    resumed = wf.resume(run_id)
    panel = ApprovalPanel(resumed)
    while not panel.cards:
        await asyncio.sleep(0.01)
    (card,) = panel.cards.values()
    assert "A post about x" in card.payload.value
    card.approve.click()
    await card.last_task
    while resumed.status != "completed":
        await asyncio.sleep(0.01)
    assert resumed.outputs == ["A post about x -> True"]


async def test_checkpoint_browser_without_storage_says_what_to_do() -> None:
    browser = CheckpointBrowser(chain(2).start(0))
    assert "checkpoint_storage=" in browser.message.value
    assert browser.fork_button.disabled and browser.resume_button.disabled


@pytest.mark.parametrize("response_type", [bool, str, Review, Decision])
def test_cards_build_without_a_loop(response_type: Any) -> None:
    run = approval_workflow(response_type).start("cats")
    asyncio.run(run.until_idle())
    panel = ApprovalPanel(run)
    (card,) = panel.cards.values()
    card.approve.click()  # no running loop: the card explains how to answer instead
    assert "await run.respond" in card.error.value and not card.answered


async def test_huge_graphs_list_only_active_executors() -> None:
    run = chain(200).start(0)
    for _ in range(3):
        await run.step()
    widget = LiveRunWidget(run, drive_run=False)
    assert widget.executors.value == ""  # closed: a 200-row table is not rebuilt
    widget.sections.selected_index = 0
    widget.redraw()
    table = widget.executors.value
    assert table.count("data-executor=") == 3  # s0..s2 done, the rest is counted
    assert "197 pending/skipped" in table


async def test_live_widget_on_a_resumed_run_shows_the_request_again(tmp_path: Any) -> None:
    store = FileCheckpointStorage(tmp_path)
    first = approval_workflow(bool, checkpoint_storage=store).start("y")
    await first.until_idle()
    wf = approval_workflow(bool, checkpoint_storage=FileCheckpointStorage(tmp_path))
    resumed = wf.resume(first.run_id)  # lazy: nothing read yet
    widget = live_run(resumed)
    assert "loading checkpoint" in widget.status.value
    await widget.wait()
    assert resumed.status == "waiting" and 'data-status="waiting"' in widget.status.value
    (card,) = widget.approvals.cards.values()
    card.reject.click()
    await card.last_task
    while resumed.status != "completed":
        await asyncio.sleep(0.01)
    await widget.wait()
    assert resumed.outputs == ["A post about y -> False"]
    assert widget.graph.states_by_id()["review"] == "done"


# ------------------------------------------------------------------ polish (issue 12)


async def test_progress_is_scaled_to_the_supersteps_done_not_the_limit() -> None:
    run = chain(3).start(0)  # max_supersteps is 8: "3 / 8" looked empty
    widget = live_run(run)
    await widget.wait()
    assert run.superstep == 3
    assert (widget.progress.value, widget.progress.max) == (3, 3)
    assert "3</span> superstep(s) done" in widget.status.value


async def test_outputs_start_open() -> None:
    widget = live_run(chain(2).start(0))
    await widget.wait()
    assert widget.sections.titles[widget.sections.selected_index] == "Outputs"


async def test_a_stepped_run_says_paused_not_running() -> None:
    run = chain(3).start(0)
    s = Stepper(run)
    s.step_button.click()
    await s.last_task
    assert run.status == "running"
    assert 'data-status="paused"' in s.status.value
    live = LiveRunWidget(run, drive_run=False)
    assert 'data-status="paused"' in live.status.value
    live.start()
    await live.wait()
    assert 'data-status="completed"' in live.status.value


@dataclass
class Approval:
    approved: bool = False
    reason: str = ""
    budget: int = 0


def _approval_flow() -> Any:
    @executor(id="plan")
    async def plan(topic: str, ctx: WorkflowContext[None, str]) -> None:
        answer = await ctx.request_info(
            Approval(approved=False, reason="draft ok?", budget=5), response_type=Approval
        )
        await ctx.yield_output(f"{topic}: {answer.approved} {answer.reason} {answer.budget}")

    return WorkflowBuilder(name="budget", start=plan).build()


async def test_card_grammar_and_an_edit_form_that_starts_from_the_request() -> None:
    run = _approval_flow().start("trip")
    await run.until_idle()
    card = next(iter(ApprovalPanel(run).cards.values()))
    assert "asks for an <code>Approval</code>" in card.header.value
    assert card.form.inputs["approved"].value is True  # Submit of an untouched form approves
    assert card.form.inputs["budget"].value == 5
    shown = [getattr(c, "description", "") for c in card.form.box.children]
    assert "reason" not in shown  # one reason box: the card's
    assert card.reason.value == "draft ok?"
    card.reason.value = "fine"
    card.form.inputs["budget"].value = 7
    card.submit.click()
    await card.last_task
    await run.until_idle()
    assert run.outputs == ["trip: True fine 7"]


async def test_answering_from_approvals_keeps_step_through() -> None:
    run = approval_workflow(bool).start("cats")
    s = Stepper(run)
    while run.status != "waiting":
        s.step_button.click()
        await s.last_task
    step = run.superstep
    card = next(iter(run.approvals().cards.values()))
    card.approve.click()
    await card.last_task
    await asyncio.sleep(0.05)
    assert driver_of(run) is None and run.superstep == step  # nothing ran on by itself
    s.redraw()
    assert not s.step_button.disabled
    s.step_button.click()
    await s.last_task
    assert run.superstep == step + 1


async def test_agent_tokens_stream_into_the_live_widget() -> None:
    from agentic_nb.agents import AgentExecutor, ChatAgent
    from agentic_nb.llm import ScriptedChatClient

    bot = AgentExecutor(ChatAgent(ScriptedChatClient(["Hello there, streaming world"]), name="bot"))
    run = WorkflowBuilder(name="talk", start=bot).build().start("hi")
    live = LiveRunWidget(run, drive_run=False)
    seen: list[tuple[str, str]] = []

    def on_event(ev: Any) -> None:  # look at the widget while the agent is still talking
        if ev.type == "AgentRunUpdate" and getattr(ev, "text", ""):
            live.redraw()
            seen.append((live.tracker.states()["bot"], live.stream.value))

    run.subscribe(on_event)
    live.start()
    await live.wait()
    assert len(seen) > 1, "the scripted client streamed more than one chunk"
    state, first = seen[0]
    assert state == "running" and 'data-agent="bot"' in first and "▌" in first
    assert "Hello there, streaming world" not in first  # only part of it so far
    assert "Hello there, streaming world" in live.stream.value
