"""Benchmarks of GraphView, the interactive graph (issue 12).

1. Layout + widget build in Python for 20 / 200 / 1,000 executors (a chain and a
   fan-out), from a fresh workflow each time (nothing cached), and the size of the
   layout sent once to the browser.
2. First paint in Debian's Chromium: ``graphview.js`` (the file shipped in the package)
   renders the layout in a blank page; time from ``render()`` to the second animation
   frame after it (the browser has laid out and painted).
3. Live-update cost on the 1,000-chain: the run alone, with a ``GraphView`` following it
   and with the whole live widget (``live_run``); ratio of medians (target: at most 1.5 times).
4. Bytes sent per update: the JSON of the traits that changed at each refresh.

Run:  .venv/bin/python bench/notebook_view.py   (--json for machine-readable output,
--no-browser to skip 2)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from importlib import resources
from typing import Any

from agentic_nb import Workflow, WorkflowBuilder, WorkflowContext, executor
from agentic_nb.widgets import GraphView, live_run

SIZES = (20, 200, 1000)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SYNCED = ("states", "hot", "last_step", "status", "detail", "snapshot")


def chain(n: int, name: str) -> Workflow:
    steps = []
    for i in range(n):
        last = i == n - 1

        async def step(x: int, ctx: WorkflowContext[int, int], _last: bool = last) -> None:
            if _last:
                await ctx.yield_output(x + 1)
            else:
                await ctx.send_message(x + 1)

        steps.append(executor(id=f"s{i}")(step))
    return WorkflowBuilder(name=name, start=steps[0], max_supersteps=n + 5).add_chain(steps).build()


def fan_out(n: int, name: str) -> Workflow:
    @executor(id="src")
    def src(x: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(x)

    targets = []
    for i in range(n - 1):

        def t(x: int, ctx: WorkflowContext[None, int]) -> None:
            ctx.yield_output(x)

        targets.append(executor(id=f"t{i}")(t))
    return WorkflowBuilder(name=name, start=src).add_fan_out(src, targets).build()


def stats(xs: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(xs),
        "min": min(xs),
        "max": max(xs),
    }


def bench_layout(repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for shape, make in (("chain", chain), ("fan_out", fan_out)):
        for n in SIZES:
            times = []
            view = None
            for r in range(repeat):
                wf = make(n, f"{shape}{n}_{r}")
                t0 = time.perf_counter()
                view = GraphView(wf)
                times.append(time.perf_counter() - t0)
            assert view is not None
            out[f"{shape}_{n}"] = {
                **{k: v * 1000 for k, v in stats(times).items()},
                "layout_bytes": len(json.dumps(view.graph)),
                "rankdir": view.graph["rankdir"],
                "width_pt": view.graph["width"],
            }
    return out


_PAGE = """<!doctype html><html><body style="margin:0;width:1000px">
<div id="cell" style="width:964px"></div></body></html>"""

_PAINT_JS = """
async ([src, graph, states]) => {
  const url = URL.createObjectURL(new Blob([src], {type: "text/javascript"}));
  const mod = (await import(url)).default;
  const values = {graph_json: graph, states, hot: [], last_step: 0, status: "running", step: -1,
                  selected: null, detail: {}, snapshot: {}, collapsed: [], max_height: 560};
  const model = {get: (k) => values[k], set: (k, v) => { values[k] = v; },
                 save_changes: () => {}, on: () => {}};
  const el = document.getElementById("cell");
  el.textContent = "";
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  const t0 = performance.now();
  mod.render({model, el});
  const rendered = performance.now();
  await frame(); await frame();
  const painted = performance.now();
  return [rendered - t0, painted - t0, el.querySelectorAll("g.node").length];
}
"""


def bench_first_paint(repeat: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    src = (resources.files("agentic_nb.widgets") / "graphview.js").read_text()
    out: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.set_content(_PAGE)
            for shape, make in (("chain", chain), ("fan_out", fan_out)):
                for n in SIZES:
                    view = GraphView(make(n, f"paint_{shape}{n}"))
                    renders, paints = [], []
                    for _ in range(repeat):
                        r, t, nodes = page.evaluate(_PAINT_JS, [src, view.graph_json, view.states])
                        assert nodes == len(view.graph["nodes"]), (nodes, shape, n)
                        renders.append(r)
                        paints.append(t)
                    out[f"{shape}_{n}"] = {
                        "render_ms": stats(renders),
                        "first_paint_ms": stats(paints),
                    }
        finally:
            browser.close()
    return out


async def _plain(wf: Workflow) -> float:
    run = wf.start(0)
    t0 = time.perf_counter()
    await run.until_idle()
    assert run.status == "completed"
    return time.perf_counter() - t0


async def _with_view(wf: Workflow) -> tuple[float, int, list[int]]:
    run = wf.start(0)
    sizes: list[int] = []
    view = GraphView(run)  # built before the run starts (its cost is in bench_layout)
    t0 = time.perf_counter()
    view.observe(lambda c: sizes.append(len(json.dumps(c["new"]))), names=list(SYNCED))
    await run.until_idle()
    elapsed = time.perf_counter() - t0
    await view.wait()
    assert run.status == "completed" and set(view.states_by_id().values()) == {"done"}
    return elapsed, view.updates, sizes


async def _with_live(wf: Workflow) -> tuple[float, int]:
    run = wf.start(0)
    t0 = time.perf_counter()
    live = live_run(run)  # returns at once and drives the run in a background task
    await live.driver
    elapsed = time.perf_counter() - t0
    await live.wait()
    assert run.status == "completed"
    return elapsed, live.redraws


def bench_live(repeat: int) -> dict[str, Any]:
    wf = chain(1000, "live")
    GraphView(wf)  # the layout is computed once per workflow: not part of a run
    plain, view, live, updates, redraws = [], [], [], [], []
    sizes: list[int] = []
    for _ in range(repeat):
        plain.append(asyncio.run(_plain(wf)))
        t, u, s = asyncio.run(_with_view(wf))
        view.append(t)
        updates.append(u)
        sizes.extend(s)
        t, r = asyncio.run(_with_live(wf))
        live.append(t)
        redraws.append(r)
    return {
        "plain_ms": {k: v * 1000 for k, v in stats(plain).items()},
        "graph_view_ms": {k: v * 1000 for k, v in stats(view).items()},
        "live_widget_ms": {k: v * 1000 for k, v in stats(live).items()},
        "graph_view_ratio": statistics.median(view) / statistics.median(plain),
        "live_widget_ratio": statistics.median(live) / statistics.median(plain),
        "graph_view_updates": statistics.median(updates),
        "live_widget_redraws": statistics.median(redraws),
        "bytes_per_changed_trait": stats([float(s) for s in sizes]) if sizes else {},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, Any] = {"layout_ms": bench_layout(args.repeat)}
    if not args.no_browser:
        results["browser"] = bench_first_paint(args.repeat)
    results["live_1000_chain"] = bench_live(args.repeat)
    print(json.dumps(results, indent=1 if args.json else 2, default=float))


if __name__ == "__main__":
    main()
