"""Step through a run in a real JupyterLab, answer its request from run.approvals(), keep
stepping: the answer must not run the rest of the workflow by itself."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import OUTPUT_DIR, code_notebook, open_notebook, run_all

pytestmark = pytest.mark.browser

CELLS = [
    """
from agentic_nb import WorkflowBuilder, WorkflowContext, executor


@executor(id="draft")
async def draft(topic: str, ctx: WorkflowContext[str]) -> None:
    await ctx.send_message(f"A post about {topic}")


@executor(id="review")
async def review(text: str, ctx: WorkflowContext[str]) -> None:
    ok = await ctx.request_info(text, response_type=bool)
    await ctx.send_message(("published: " if ok else "dropped: ") + text)


@executor(id="announce")
async def announce(text: str, ctx: WorkflowContext[None, str]) -> None:
    await ctx.yield_output(text)


wf = (
    WorkflowBuilder(name="publish", start=draft)
    .add_edge(draft, review)
    .add_edge(review, announce)
    .build()
)
run = wf.start("cats")
run.stepper()
""",
    """
run.approvals()
""",
]


def test_stepper_keeps_step_control_after_an_approval(
    lab_server: Callable[..., str], chromium: Any
) -> None:
    from playwright.sync_api import expect

    name = f"stepper-{uuid.uuid4().hex[:8]}.ipynb"
    base = lab_server({name: code_notebook(CELLS)})
    page = open_notebook(chromium, base, name)
    run_all(page)
    stepper = page.locator(".agentic-stepper")
    expect(stepper).to_be_visible(timeout=60_000)
    step = stepper.locator("button.widget-button", has_text="Step")
    status = stepper.locator(".agentic-status")
    for expected in ("paused", "waiting"):  # superstep 0: draft; superstep 1: review asks
        expect(step).to_be_enabled(timeout=30_000)
        step.click()
        expect(status).to_have_attribute("data-status", expected, timeout=30_000)
    superstep = stepper.locator(".agentic-superstep")
    before = int(superstep.inner_text())
    card = page.locator(".agentic-request-card")
    expect(card).to_contain_text("A post about cats", timeout=30_000)
    expect(card).to_contain_text("asks for a")
    card.locator("button.widget-button", has_text="Approve").click()
    expect(card.locator(".agentic-answered")).to_contain_text("approved", timeout=30_000)
    # the answer is recorded; the run waits for the next Step instead of running on
    expect(status).to_have_attribute("data-status", "paused", timeout=30_000)
    page.wait_for_timeout(1000)
    expect(status).to_have_attribute("data-status", "paused")
    expect(superstep).to_have_text(str(before))  # nothing ran by itself
    expect(step).to_be_enabled()
    page.screenshot(path=str(OUTPUT_DIR / "stepper_after_approval.png"))
    for _ in range(4):  # review resumes with the answer, announce yields the output
        step.click()
        expect(superstep).not_to_have_text(str(before), timeout=30_000)
        before = int(superstep.inner_text())
        if status.get_attribute("data-status") == "completed":
            break
        expect(step).to_be_enabled(timeout=30_000)
    expect(status).to_have_attribute("data-status", "completed", timeout=30_000)
    expect(stepper).to_contain_text("published: A post about cats")
    page.close()
