"""End to end: a real JupyterLab on loopback, driven in Debian's Chromium with Playwright.

Opens a notebook, runs all cells, clicks Approve on the pending request card and checks
in the page that the run completed and that the graph SVG shows every executor in its
final colour. A screenshot is saved under ``test-output/browser/``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest

from agentic_nb.notebook import STATE_COLORS

from .conftest import CHROMIUM, CHROMIUM_ARGS, OUTPUT_DIR, code_notebook

pytestmark = pytest.mark.browser

NOTEBOOK_CELLS = [
    """
from agentic_nb import WorkflowBuilder, WorkflowContext, executor


@executor(id="draft")
async def draft(topic: str, ctx: WorkflowContext[str]) -> None:
    await ctx.send_message(f"A post about {topic}")


@executor(id="review")
async def review(text: str, ctx: WorkflowContext[str, str]) -> None:
    ok = await ctx.request_info(text, response_type=bool)
    await ctx.yield_output(("published: " if ok else "dropped: ") + text)
    await ctx.send_message(text)


@executor(id="escalate")
async def escalate(text: str, ctx: WorkflowContext[None, str]) -> None:
    await ctx.yield_output("escalated: " + text)


wf = (
    WorkflowBuilder(name="publish", start=draft)
    .add_edge(draft, review)
    .add_edge(review, escalate, condition=lambda t: "urgent" in t, label="urgent")
    .build()
)
""",
    """
live = wf.run_live("cats")
live
""",
]


@pytest.fixture
def jupyterlab(lab_server: Callable[..., str]) -> tuple[str, str]:
    name = f"approval-{uuid.uuid4().hex[:8]}.ipynb"
    return lab_server({name: code_notebook(NOTEBOOK_CELLS)}), name


_GRAPH_FILLS_JS = """
() => {
  const svgs = document.querySelectorAll('.agentic-live-run .agentic-graph-svg svg');
  const svg = svgs[svgs.length - 1];
  if (!svg) return null;
  const out = {};
  for (const g of svg.querySelectorAll('g.node')) {
    const title = g.querySelector('title');
    const shape = g.querySelector('path, polygon, ellipse');
    if (title && shape) out[title.textContent] = shape.getAttribute('fill');
  }
  return out;
}
"""


def test_run_all_approve_and_see_the_final_graph(jupyterlab: tuple[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, name = jupyterlab
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT_DIR / "approval_completed.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{name}?reset")
            kernel = page.get_by_role("button", name=re.compile(r"\(ipykernel\) \| Idle$"))
            expect(kernel).to_be_visible(timeout=60_000)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.locator('li.lm-Menu-item[data-command="runmenu:run-all"]').click()

            card = page.locator(".agentic-request-card")
            expect(card).to_be_visible(timeout=60_000)
            expect(card).to_contain_text("A post about cats")
            waiting = page.locator('.agentic-live-run .agentic-status[data-status="waiting"]')
            expect(waiting).to_be_visible(timeout=30_000)
            approve = card.locator("button.widget-button", has_text="Approve")
            approve.click()

            done = page.locator('.agentic-live-run .agentic-status[data-status="completed"]')
            expect(done).to_be_visible(timeout=30_000)
            expect(card.locator(".agentic-answered")).to_contain_text("approved")
            expect(approve).to_be_disabled()
            outputs = page.locator(".agentic-live-run").first
            expect(outputs).to_contain_text("1 output(s)")
            page.wait_for_timeout(300)  # let the last throttled redraw land
            fills = page.evaluate(_GRAPH_FILLS_JS)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert fills is not None, "no graph SVG in the live widget"
    assert fills["draft"] == STATE_COLORS["done"]
    assert fills["review"] == STATE_COLORS["done"]
    assert fills["escalate"] == STATE_COLORS["skipped"]  # the urgent branch was never taken
    assert shot.exists() and shot.stat().st_size > 10_000
