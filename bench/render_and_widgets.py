"""Benchmarks of the notebook layer.

1. Rendering a 200-executor workflow to SVG (first layout with ``dot``, then a run redraw).
2. Converting 100,000 real run events to a pandas DataFrame.
3. A 1,000-executor chain run with and without the live widget attached.

Run:  .venv/bin/python bench/render_and_widgets.py   (add --json for machine-readable output)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from agentic_nb import Workflow, WorkflowBuilder, WorkflowContext, executor
from agentic_nb.notebook import events_to_dataframe
from agentic_nb.notebook._graph import run_svg, workflow_svg
from agentic_nb.widgets import live_run


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


def tree(n: int, name: str) -> Workflow:
    """n executors in a binary tree with fan-outs: a wider layout than a chain."""
    nodes = []
    for i in range(n):

        async def step(x: int, ctx: WorkflowContext[int, int]) -> None:
            await ctx.send_message(x)

        nodes.append(executor(id=f"t{i}")(step))
    b = WorkflowBuilder(name=name, start=nodes[0], max_supersteps=n + 5)
    for i in range(n):
        kids = [nodes[k] for k in (2 * i + 1, 2 * i + 2) if k < n]
        if len(kids) == 2:
            b.add_fan_out(nodes[i], kids)
        elif kids:
            b.add_edge(nodes[i], kids[0])
    return b.build()


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def bench_render() -> dict[str, float]:
    out: dict[str, float] = {}
    for kind, make in (("chain", chain), ("tree", tree)):
        firsts = []
        for r in range(3):
            wf = make(200, f"{kind}{r}")  # a fresh workflow: no cached layout
            t0 = time.perf_counter()
            workflow_svg(wf)
            firsts.append(time.perf_counter() - t0)
        out[f"render_200_{kind}_first_s"] = min(firsts)
        run = wf.start(0)
        asyncio.run(run.until_idle())
        best, _ = best_of(5, lambda run=run: run_svg(run))
        out[f"redraw_200_{kind}_run_s"] = best
    return out


def bench_dataframe() -> dict[str, float]:
    events: list[Any] = []
    wf = chain(1000, "events")
    while len(events) < 100_000:
        events.extend(wf.run_sync(0).events)
    events = events[:100_000]
    best, median = best_of(3, lambda: events_to_dataframe(events))
    return {"events_100k_to_dataframe_s": best, "events_100k_to_dataframe_median_s": median}


async def _plain(wf: Workflow) -> float:
    run = wf.start(0)
    t0 = time.perf_counter()
    await run.until_idle()
    assert run.status == "completed"
    return time.perf_counter() - t0


async def _with_widget(wf: Workflow) -> tuple[float, int]:
    run = wf.start(0)
    t0 = time.perf_counter()
    widget = live_run(run)
    await widget.driver  # the run itself (redraws happen meanwhile, throttled)
    elapsed = time.perf_counter() - t0
    await widget.wait()  # then the last throttled redraw lands
    assert run.status == "completed"
    return elapsed, widget.redraws


def bench_live() -> dict[str, float]:
    wf = chain(1000, "live")
    live_run(wf.start(0))  # warm the layout cache (computed once per workflow)
    plain, widget, redraws = [], [], []
    for _ in range(3):
        plain.append(asyncio.run(_plain(wf)))
        t, n = asyncio.run(_with_widget(wf))
        widget.append(t)
        redraws.append(n)
    return {
        "chain_1000_plain_s": min(plain),
        "chain_1000_with_live_widget_s": min(widget),
        "live_widget_overhead_ratio": min(widget) / min(plain),
        "live_widget_redraws": float(statistics.median(redraws)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    results: dict[str, float] = {}
    results.update(bench_render())
    results.update(bench_dataframe())
    results.update(bench_live())
    if args.json:
        print(json.dumps(results, indent=2))
        return
    width = max(len(k) for k in results)
    for k, v in results.items():
        unit = "" if k.endswith(("ratio", "redraws")) else " s"
        print(f"{k:<{width}}  {v:10.4f}{unit}")


if __name__ == "__main__":
    main()
