"""Cost of the tracing and budget hooks when they are off: chain-1000, interleaved A/B.

Runs the ``chain`` workload of ``compare.py`` (1,000 trivial executors) in fresh
subprocesses, alternating between two copies of the package — ``--base`` (the code
before the change, e.g. ``git archive <commit> agentic_nb | tar -x -C DIR``) and
this worktree — so load on the machine hits both alike. It times process CPU
time per run (``time.process_time``), which the other processes of a loaded machine
disturb far less than wall time. Optionally a third variant
runs this worktree with ``agentic_nb.otel.instrument()`` on (SDK, in-memory exporter).

Usage::

    .venv/bin/python bench/otel_overhead.py --base /tmp/otel-base --rounds 8 --reps 15
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def worker(code: str, reps: int, traced: bool) -> None:
    sys.path[:0] = [code, str(HERE)]
    import agentic_nb

    assert agentic_nb.__file__ is not None and agentic_nb.__file__.startswith(code), (
        agentic_nb.__file__
    )
    from _workloads_agentic_nb import make_case
    from _workloads_common import Sizes, prepare

    if traced:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from agentic_nb.otel import instrument

        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
        instrument(tracer_provider=provider)
    case = make_case("chain", Sizes(1000, 100))
    assert not isinstance(case, str), case

    async def go() -> list[float]:
        info = await prepare(case, 3, 60.0)
        assert info.get("status") == "ok", info
        # CPU time of this process per run: what the code costs, far less disturbed
        # than wall time by the other processes of a loaded machine.
        samples = []
        for _ in range(reps):
            gc.collect()
            t = time.process_time()
            await case.run()
            samples.append((time.process_time() - t) * 1000.0)
        return samples

    print(json.dumps(asyncio.run(go())))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="directory holding the old agentic_nb/")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--traced", action="store_true", help="also time tracing switched on")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--on", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.reps, args.on)
        return
    variants = {"before": (args.base, False), "after (tracing off)": (str(ROOT), False)}
    if args.traced:
        variants["after (tracing on, SDK)"] = (str(ROOT), True)
    samples: dict[str, list[float]] = {k: [] for k in variants}
    round_medians: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(args.rounds):
        names = list(variants) if r % 2 == 0 else list(reversed(variants))
        for name in names:
            code, on = variants[name]
            cmd = [sys.executable, __file__, "--base", args.base, "--worker", code]
            cmd += ["--reps", str(args.reps)] + (["--on"] if on else [])
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            got = json.loads(out.strip().splitlines()[-1])
            samples[name].extend(got)
            round_medians[name].append(statistics.median(got))
    base = statistics.median(samples["before"])
    print(f"chain-1000, CPU ms per run, {args.rounds} interleaved rounds x {args.reps} runs each")
    head = ("variant", "median ms", "p25", "p75", "min", "rounds min-max", "vs before")
    print(
        f"{head[0]:26} {head[1]:>10} {head[2]:>8} {head[3]:>8} {head[4]:>8} {head[5]:>18} "
        f"{head[6]:>10}"
    )
    for name, xs in samples.items():
        q = statistics.quantiles(xs, n=4)
        rm = round_medians[name]
        print(
            f"{name:26} {statistics.median(xs):10.2f} {q[0]:8.2f} {q[2]:8.2f} {min(xs):8.2f} "
            f"{min(rm):8.2f}-{max(rm):<9.2f} {statistics.median(xs) / base - 1:+10.1%}"
        )
    # Paired per round (the two variants of a round ran back to back under the same load).
    for name in list(variants)[1:]:
        ratios = sorted(a / b - 1 for a, b in zip(round_medians[name], round_medians["before"]))
        q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        print(
            f"paired per-round {name}: median {statistics.median(ratios):+.1%} "
            f"(p25 {q[0]:+.1%}, p75 {q[2]:+.1%}, {len(ratios)} rounds)"
        )


if __name__ == "__main__":
    main()
