"""GraphView in a real JupyterLab: zoom and fit, click a node, scrub supersteps, 200 executors.

Screenshots go to ``test-output/browser/``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import OUTPUT_DIR, code_notebook, open_notebook, run_all

pytestmark = pytest.mark.browser

CELLS = [
    """
import asyncio
from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.widgets import GraphView


@executor(id="count")
def count(n: int, ctx: WorkflowContext[int, int]) -> None:
    ctx.set_state("n", n)
    if n < 4:
        ctx.send_message(n + 1)
    else:
        ctx.yield_output(n)


@executor(id="report")
def report(n: int, ctx: WorkflowContext[None, str]) -> None:
    ctx.yield_output(f"counted to {n}")


loop = (
    WorkflowBuilder(name="loop", start=count)
    .add_edge(count, count, condition=lambda n: n < 4, label="n < 4")
    .add_edge(count, report, condition=lambda n: n >= 4, label="done")
    .build()
)
done = loop.start(0)
await done.until_idle()


def make_chain(n):
    steps = []
    for i in range(n):
        async def step(x: int, ctx: WorkflowContext[int, int], _last=(i == n - 1)) -> None:
            await asyncio.sleep(0.03)
            if _last:
                await ctx.yield_output(x)
            else:
                await ctx.send_message(x + 1)
        steps.append(executor(id=f"s{i:03d}")(step))
    b = WorkflowBuilder(name="chain200", start=steps[0], max_supersteps=n + 5)
    return b.add_chain(steps).build()


big = make_chain(200)
""",
    """
view = GraphView(done)
view
""",
    """
live = big.run_live(0)
live
""",
]

_TRANSFORM = "() => document.querySelector('.agnb-world').getAttribute('transform')"

# Latency of the page's main thread: the longest gap between timer callbacks asked every 20 ms.
_LATENCY_JS = """
async (ms) => {
  const long = [];
  const obs = new PerformanceObserver((l) => {
    for (const e of l.getEntries()) long.push(Math.round(e.duration));
  });
  obs.observe({ type: "longtask" });
  const t0 = performance.now();
  let last = t0;
  const gaps = [];
  while (performance.now() < t0 + ms) {
    await new Promise((r) => setTimeout(r, 20));
    const now = performance.now();
    gaps.push([Math.round(now - t0), Math.round(now - last - 20)]);
    last = now;
  }
  obs.disconnect();
  return [gaps, long];
}
"""


def _state(page: Any, view: Any, node: str) -> str | None:
    return view.locator(f'g.node[data-id="{node}"]').get_attribute("data-state")


def test_zoom_fit_click_scrub_and_200_executors_live(
    lab_server: Callable[..., str], chromium: Any
) -> None:
    from playwright.sync_api import expect

    name = f"graphview-{uuid.uuid4().hex[:8]}.ipynb"
    base = lab_server({name: code_notebook(CELLS)})
    page = open_notebook(chromium, base, name)
    run_all(page)

    views = page.locator(".agnb-gv")
    expect(views.nth(1)).to_be_visible(timeout=60_000)  # the live 200-chain view is up
    # --- the 200-executor live run: the page keeps answering while it runs
    live = views.nth(1)
    expect(live.locator('g.node[data-state="d"]').first).to_be_attached(timeout=30_000)
    gaps, long = page.evaluate(_LATENCY_JS, 2500)
    running = live.locator('g.node[data-state="p"]').count()
    worst = max(g for _t, g in gaps)
    print(
        "gaps over 30 ms:",
        [g for g in gaps if g[1] > 30],
        "pending after:",
        running,
        "long tasks:",
        long,
    )
    live.scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT_DIR / "graphview_200_live.png"))
    assert running > 0, "the run ended before the measurement did: make it longer"
    assert worst < 100, f"the page's main thread stalled {worst:.0f} ms during the run"

    view = views.nth(0)
    view.scroll_into_view_if_needed()
    expect(view.locator('g.node[data-id="count"]')).to_have_attribute("data-state", "d")
    # --- zoom and fit change the view
    before = page.evaluate(_TRANSFORM)
    view.locator("button", has_text="+").click()
    zoomed = page.evaluate(_TRANSFORM)
    assert zoomed != before
    view.locator("button.agnb-fit").click()
    fitted = page.evaluate(_TRANSFORM)
    assert fitted != zoomed
    # --- clicking a node shows its inputs
    view.locator('g.node[data-id="report"]').click()
    panel = view.locator(".agnb-panel")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("last inputs")
    expect(panel).to_contain_text("count")  # report received 4 from count
    expect(panel.locator("td", has_text="4").first).to_be_visible()
    page.screenshot(path=str(OUTPUT_DIR / "graphview_panel.png"))
    # --- the scrubber moves the colouring back to superstep 0
    assert _state(page, view, "report") == "d"
    slider = view.locator("input.agnb-range")
    slider.evaluate("(el) => { el.value = '0'; el.dispatchEvent(new Event('input')); }")
    expect(view.locator('g.node[data-id="report"]')).to_have_attribute("data-state", "p")
    expect(view.locator(".agnb-snap")).to_contain_text("messages queued for superstep 1")
    page.screenshot(path=str(OUTPUT_DIR / "graphview_scrubbed.png"))
    view.locator("button.agnb-live").click()
    expect(view.locator('g.node[data-id="report"]')).to_have_attribute("data-state", "d")
    page.close()
