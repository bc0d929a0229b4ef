"""Code generation: the specification's graph against the linear loop (a benchmark, not a test).

Both designs run on every task of the library with the same model and the same real
toolchain (tsc + jest in the sandbox). Success is judged by each task's HIDDEN
acceptance tests, run on the final files — never by the generated tests alone.

By default the model is the ``SimulatedCoder`` — a SIMULATION of a model that makes
realistic mistakes at stated rates and repairs them with a stated probability; tsc and
jest really run on every candidate. A real model is used as well when the environment
configures one:

- ``OPENAI_BASE_URL`` (any OpenAI-compatible server) with ``OPENAI_API_KEY`` and
  ``CODEGEN_MODEL`` (model name), or
- ``ANTHROPIC_API_KEY`` (and optionally ``CODEGEN_MODEL``).

Run::

    .venv/bin/python bench/codegen.py                      # 8 tasks x 3 seeds x 2 designs
    .venv/bin/python bench/codegen.py --seeds 1 --tasks state_machine,lru_cache
    .venv/bin/python bench/codegen.py --json bench/results/codegen.json \
        --chart bench/results/codegen.png

Prints one row per design: acceptance success rate, the graph's own verdict, mean
attempts, model calls, tokens, validator runs, supersteps and wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agentic_nb.codegen import (  # noqa: E402
    CodeArtifact,
    CodeBundle,
    CodeTask,
    GeneratedProject,
    Sandbox,
    SimulatedCoder,
    TestValidator,
    TypeScriptToolchain,
    codegen_workflow,
    linear_codegen,
    task_library,
)

DESIGNS = ("graph", "linear")


def real_client() -> tuple[str, Any] | None:
    """A real chat client when the environment configures one, else ``None``."""
    model = os.environ.get("CODEGEN_MODEL", "")
    if os.environ.get("OPENAI_BASE_URL") and os.environ.get("OPENAI_API_KEY"):
        from agentic_nb.llm import OpenAIChatClient

        client = OpenAIChatClient(model or "gpt-4o-mini", base_url=os.environ["OPENAI_BASE_URL"])
        return f"openai:{client.model}", client
    if os.environ.get("ANTHROPIC_API_KEY"):
        from agentic_nb.llm import AnthropicChatClient

        client = AnthropicChatClient(model or "claude-sonnet-4-5")
        return f"anthropic:{client.model}", client
    return None


def build(design: str, client: Any, max_attempts: int, sandbox: Any, toolchain: Any) -> Any:
    if design == "graph":
        return codegen_workflow(
            client=client, max_attempts=max_attempts, sandbox=sandbox, toolchain=toolchain
        )
    if design == "graph_best3":
        return codegen_workflow(
            client=client,
            max_attempts=max_attempts,
            best_of=3,
            sandbox=sandbox,
            toolchain=toolchain,
        )
    return linear_codegen(client, max_attempts=max_attempts, sandbox=sandbox, toolchain=toolchain)


async def one_run(
    design: str,
    task: CodeTask,
    make_client: Callable[[], Any],
    judge: Any,
    *,
    max_attempts: int,
    sandbox: Any,
    toolchain: Any,
) -> dict[str, Any]:
    client = make_client()
    wf = build(design, client, max_attempts, sandbox, toolchain)
    t0 = time.perf_counter()
    result = await wf.run(task)
    wall = time.perf_counter() - t0
    project = result.get_output(GeneratedProject)
    row: dict[str, Any] = {
        "design": design,
        "task": task.name,
        "status": result.status,
        "wall": wall,
        "supersteps": result.supersteps,
    }
    if project is None:
        row.update(own_passed=False, accepted=False, attempts=0, reason=str(result.error))
        return row
    accepted = await judge_acceptance(judge, task, project)
    row.update(
        own_passed=project.passed,
        accepted=accepted,
        attempts=project.attempts,
        reason=project.reason[:160],
        **project.stats,
    )
    return row


async def judge_acceptance(judge: Any, task: CodeTask, project: GeneratedProject) -> bool:
    """Run the task's HIDDEN acceptance tests on the final types and implementation.

    The generated tests are dropped; the hidden ones are put under ``tests/`` (where
    the toolchain's jest configuration looks for tests).
    """
    if not project.files or not task.acceptance_tests:
        return False
    src = {p: t for p, t in project.files.items() if not p.startswith("tests/")}
    hidden = {"tests/" + p.rsplit("/", 1)[-1]: t for p, t in task.acceptance_tests.items()}
    bundle = CodeBundle(task, [CodeArtifact("impl", src), CodeArtifact("tests", hidden)])
    verdict = await judge.check(bundle)
    return bool(verdict.passed)


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for design in dict.fromkeys(r["design"] for r in rows):
        rs = [r for r in rows if r["design"] == design]

        def mean(key: str, rs: list[dict[str, Any]] = rs) -> float:
            return statistics.fmean(float(r.get(key, 0) or 0) for r in rs)

        walls = [r["wall"] for r in rs]
        out.append(
            {
                "design": design,
                "runs": len(rs),
                "accepted": sum(r["accepted"] for r in rs) / len(rs),
                "own_passed": sum(r["own_passed"] for r in rs) / len(rs),
                "attempts": mean("attempts"),
                "model_calls": mean("model_calls"),
                "tokens": mean("input_tokens") + mean("output_tokens"),
                "validator_runs": mean("validator_runs"),
                "supersteps": mean("supersteps"),
                "wall_median": statistics.median(walls),
                "wall_p10": _quantile(walls, 0.1),
                "wall_p90": _quantile(walls, 0.9),
            }
        )
    return out


def _quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def print_table(summary: list[dict[str, Any]], label: str) -> None:
    print(f"\nmodel: {label}")
    head = (
        f"{'design':<12} {'runs':>4} {'accept':>7} {'own':>6} {'attempts':>8} {'calls':>6} "
        f"{'tokens':>7} {'val.runs':>8} {'steps':>6} {'wall med [p10-p90] s':>22}"
    )
    print(head)
    print("-" * len(head))
    for s in summary:
        print(
            f"{s['design']:<12} {s['runs']:>4} {s['accepted']:>7.0%} {s['own_passed']:>6.0%} "
            f"{s['attempts']:>8.2f} {s['model_calls']:>6.1f} {s['tokens']:>7.0f} "
            f"{s['validator_runs']:>8.1f} {s['supersteps']:>6.1f} "
            f"{s['wall_median']:>8.2f} [{s['wall_p10']:.2f}-{s['wall_p90']:.2f}]"
        )


def save_chart(summary: list[dict[str, Any]], path: Path, label: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing: pip install 'agentic-nb[bench]' to save the chart")
        return
    metrics = [
        ("accepted", "success (hidden tests)", 100.0),
        ("model_calls", "model calls / run", 1.0),
        ("validator_runs", "validator runs / run", 1.0),
        ("wall_median", "wall time / run (s)", 1.0),
    ]
    fig, axes = plt.subplots(1, len(metrics), figsize=(12, 3.2))
    designs = [s["design"] for s in summary]
    colours = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]
    for ax, (key, title, scale) in zip(axes, metrics):
        ax.bar(designs, [s[key] * scale for s in summary], color=colours[: len(designs)])
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=8)
    fig.suptitle(f"Code generation: graph vs linear — model: {label}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"chart saved to {path}")


async def run_all(args: argparse.Namespace) -> dict[str, Any]:
    tasks = task_library(args.language)
    if args.tasks:
        wanted = set(args.tasks.split(","))
        tasks = [t for t in tasks if t.name in wanted]
    designs = args.designs.split(",")
    toolchain = TypeScriptToolchain() if args.language == "typescript" else None
    if toolchain is not None:
        toolchain.ensure()
    sandbox = Sandbox(timeout=60.0)
    judge = TestValidator(id="acceptance", toolchain=toolchain, sandbox=sandbox)
    models: list[tuple[str, Callable[[int], Any]]] = [
        ("SimulatedCoder (a simulation)", lambda seed: SimulatedCoder(seed=seed))
    ]
    real = real_client()
    if real is not None and not args.simulated_only:
        models.append((real[0], lambda seed: real[1]))
    elif not args.simulated_only:
        print("no real model configured (OPENAI_BASE_URL+OPENAI_API_KEY or ANTHROPIC_API_KEY)")
    report: dict[str, Any] = {"models": {}}
    for label, factory in models:
        rows: list[dict[str, Any]] = []
        seeds = range(args.seeds) if label.startswith("Simulated") else range(1)
        for seed in seeds:
            for task in tasks:
                for design in designs:
                    row = await one_run(
                        design,
                        task,
                        lambda f=factory, s=seed: f(s),
                        judge,
                        max_attempts=args.max_attempts,
                        sandbox=sandbox,
                        toolchain=toolchain,
                    )
                    row["seed"] = seed
                    rows.append(row)
                    if args.verbose:
                        print(
                            f"  {design:<12} {task.name:<16} seed={seed} accepted={row['accepted']}"
                            f" attempts={row.get('attempts')} {row.get('reason', '')[:70]}"
                        )
        summary = summarize(rows)
        print_table(summary, label)
        report["models"][label] = {"summary": summary, "rows": rows}
        if args.chart and label.startswith("Simulated"):
            save_chart(summary, Path(args.chart), label)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--language", default="typescript")
    p.add_argument("--tasks", default="", help="comma-separated task names (default: all)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--designs", default="graph,linear", help="graph, linear, graph_best3")
    p.add_argument("--max-attempts", type=int, default=4)
    p.add_argument("--json", default="", help="write every run and the summary to this file")
    p.add_argument("--chart", default="", help="save a bar chart (PNG) to this file")
    p.add_argument("--simulated-only", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    report = asyncio.run(run_all(args))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1, default=str))
        print(f"results saved to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
