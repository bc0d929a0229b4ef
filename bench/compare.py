"""Compare agentic_nb with LangGraph, Microsoft Agent Framework and a bare-asyncio floor.

One invocation runs every framework in its own subprocess (this script again, with
``--worker NAME``), on the same workloads:

- ``chain``: a chain of 1,000 trivial executors (each adds 1; the last yields the output);
- ``fanout``: one executor fans out to 100 executors which fan in to one join;
- ``checkpoint``: the 1,000-chain with an in-memory checkpoint after every superstep.

Each worker builds each graph once (outside the timed region), checks the result
is right, warms up, times N runs and prints one JSON line per workload. The parent
prints the median milliseconds per run, the ratios and whether the targets of
issue 2 are met.

Usage::

    .venv/bin/python bench/compare.py            # full run (about 1-2 minutes)
    .venv/bin/python bench/compare.py --quick    # tiny sizes, a few seconds
    .venv/bin/python bench/compare.py --only agentic_nb,langgraph --only chain
    .venv/bin/python bench/compare.py --profile chain   # cProfile of agentic_nb's chain
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import importlib
import json
import os
import platform
import pstats
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(HERE), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

from _workloads_common import (  # noqa: E402
    QUICK_SIZES,
    WORKLOAD_TITLES,
    WORKLOADS,
    Case,
    Sizes,
    prepare,
    summarize,
    timed_runs,
)

FRAMEWORKS = ("agentic_nb", "langgraph", "agent_framework", "floor")
PEERS = ("langgraph", "agent_framework")
OURS = "agentic_nb"
MARK = "BENCH "

# (workload, peer, minimum speed-up of agentic_nb) from issue 2.
TARGETS = (
    ("chain", "agent_framework", 20.0),
    ("chain", "langgraph", 50.0),
    ("fanout", "langgraph", 8.0),
    ("fanout", "agent_framework", 8.0),
)


# ---------------------------------------------------------------------- worker
def _emit(record: dict[str, Any]) -> None:
    sys.stdout.write(MARK + json.dumps(record) + "\n")
    sys.stdout.flush()


def _load(framework: str) -> Any:
    if framework == "agent_framework":
        os.environ["ENABLE_INSTRUMENTATION"] = "false"
    return importlib.import_module(f"_workloads_{framework}")


def _worker(framework: str, sizes: Sizes, warmup: int, run_timeout_s: float) -> None:
    """Serve the parent's commands (one JSON line each on stdin) for one framework."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    t = time.perf_counter()
    module = _load(framework)
    _emit({"version": module.version(), "import_ms": (time.perf_counter() - t) * 1000.0})
    cases: dict[str, Case] = {}
    for line in sys.stdin:
        cmd = json.loads(line)
        workload = cmd.get("workload", "")
        record: dict[str, Any] = {"workload": workload}
        try:
            if cmd["cmd"] == "quit":
                break
            if cmd["cmd"] == "prepare":
                t = time.perf_counter()
                case = module.make_case(workload, sizes)
                record["build_ms"] = (time.perf_counter() - t) * 1000.0
                if isinstance(case, str):
                    record.update(status="n/a", detail=case)
                else:
                    record.update(loop.run_until_complete(prepare(case, warmup, run_timeout_s)))
                    if record["status"] == "ok":
                        cases[workload] = case
            else:  # "time"
                samples = loop.run_until_complete(timed_runs(cases[workload], cmd["reps"]))
                record.update(status="ok", samples=samples)
        except Exception as exc:
            record.update(status="error", detail=f"{type(exc).__name__}: {exc}")
        _emit(record)
    loop.close()


# ---------------------------------------------------------------------- parent
class WorkerGone(Exception):
    """A worker crashed or did not answer in time."""


class _Worker:
    """One framework's subprocess; the parent sends it one command at a time."""

    def __init__(self, framework: str, args: argparse.Namespace) -> None:
        self.framework = framework
        argv = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            framework,
            "--chain",
            str(args.chain),
            "--width",
            str(args.width),
            "--warmup",
            str(args.warmup),
            "--run-timeout",
            str(args.run_timeout),
        ]
        env = dict(os.environ, ENABLE_INSTRUMENTATION="false", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(MARK):
                self.lines.put(json.loads(line[len(MARK) :]))
        self.lines.put(None)  # end of output: the process exited

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())

    def receive(self, timeout: float) -> dict[str, Any]:
        try:
            rec = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.close()
            raise WorkerGone(f"no answer within {timeout:.0f} s; worker stopped") from None
        if rec is None:
            tail = " | ".join(self.stderr[-3:])
            raise WorkerGone(f"worker exited (code {self.proc.wait()}): {tail}")
        return rec

    def ask(self, cmd: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except OSError as exc:
            raise WorkerGone(f"worker is gone: {exc}") from None
        return self.receive(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def _measure_all(
    args: argparse.Namespace, frameworks: list[str], workloads: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, dict[str, Any]]]]:
    """Start one worker per framework; interleave their timed runs in rounds, so that
    a burst of load on this shared machine falls on every framework alike."""
    workers = {fw: _Worker(fw, args) for fw in frameworks}
    headers: dict[str, dict[str, Any]] = {}
    results: dict[str, dict[str, dict[str, Any]]] = {fw: {} for fw in frameworks}
    dead: dict[str, str] = {}
    try:
        for fw, worker in workers.items():
            try:
                headers[fw] = worker.receive(timeout=120)
            except WorkerGone as exc:
                headers[fw] = {"version": "?"}
                dead[fw] = str(exc)
        prepare_timeout = args.run_timeout * (2 + args.warmup) + 60
        for w in workloads:
            for fw in frameworks:
                if fw in dead:
                    results[fw][w] = {"status": "error", "detail": dead[fw]}
                    continue
                _log(f"{w}: preparing {fw}")
                try:
                    results[fw][w] = workers[fw].ask(
                        {"cmd": "prepare", "workload": w}, prepare_timeout
                    )
                except WorkerGone as exc:
                    dead[fw] = str(exc)
                    results[fw][w] = {"status": "error", "detail": dead[fw]}
            live = [fw for fw in frameworks if results[fw][w].get("status") == "ok"]
            samples: dict[str, list[float]] = {fw: [] for fw in live}
            spent = dict.fromkeys(live, 0.0)
            per_round = -(-args.reps // args.rounds)
            for r in range(args.rounds):
                for fw in live[r % len(live) :] + live[: r % len(live)] if live else []:
                    if fw in dead:
                        continue
                    k = min(per_round, args.reps - len(samples[fw]))
                    if k <= 0 or (len(samples[fw]) >= 3 and spent[fw] > args.budget):
                        continue
                    _log(f"{w}: round {r + 1}/{args.rounds}, {k} timed runs of {fw}")
                    guess = results[fw][w]["first_run_ms"] / 1000.0
                    t = time.perf_counter()
                    try:
                        rec = workers[fw].ask(
                            {"cmd": "time", "workload": w, "reps": k}, 60 + 10 * k * guess
                        )
                    except WorkerGone as exc:
                        dead[fw] = str(exc)
                        results[fw][w] = {"status": "error", "detail": dead[fw]}
                        continue
                    spent[fw] += time.perf_counter() - t
                    if rec.get("status") != "ok":
                        results[fw][w] = rec
                        dead[fw] = rec.get("detail", "error")
                        continue
                    samples[fw].extend(rec["samples"])
            for fw in live:
                if results[fw][w].get("status") == "ok" and samples[fw]:
                    results[fw][w].update(summarize(samples[fw]), samples=samples[fw])
    finally:
        for worker in workers.values():
            worker.close()
    return headers, results


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _cell(rec: dict[str, Any]) -> str:
    status = rec.get("status")
    if status == "ok":
        return f"{rec['median_ms']:.2f}"
    if status == "timeout":
        return f">{rec['timeout_s'] * 1000:.0f} (timeout)"
    if status == "n/a":
        return "n/a"
    return "WRONG" if status == "wrong" else "ERROR"


def _ratio(num: dict[str, Any], den: dict[str, Any]) -> tuple[float | None, bool]:
    """``num / den`` of medians, and whether it is only a lower bound (num timed out)."""
    if den.get("status") != "ok" or den["median_ms"] <= 0:
        return None, False
    if num.get("status") == "ok":
        return num["median_ms"] / den["median_ms"], False
    if num.get("status") == "timeout":
        return num["timeout_s"] * 1000.0 / den["median_ms"], True
    return None, False


def _by_min(rec: dict[str, Any]) -> dict[str, Any]:
    """The record with its best run in place of the median (for the secondary ratio)."""
    return {**rec, "median_ms": rec["min_ms"]} if rec.get("status") == "ok" else rec


def _fmt_ratio(value: float | None, lower_bound: bool) -> str:
    if value is None:
        return "-"
    return f"{'>' if lower_bound else ''}{value:.1f}x"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _report(
    args: argparse.Namespace,
    frameworks: list[str],
    workloads: list[str],
    headers: dict[str, dict[str, Any]],
    results: dict[str, dict[str, dict[str, Any]]],
) -> str:
    sizes = {"chain": args.chain, "width": args.width}
    out: list[str] = []
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    out.append(
        f"bench/compare.py  {now}  {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    out.append(
        f"sizes: chain={args.chain}, fan-out width={args.width}; up to {args.reps} timed runs "
        f"in {args.rounds} interleaved round(s) after {args.warmup} warm-up"
        + (" (QUICK: sizes too small for the targets)" if args.quick else "")
    )
    out.append(
        "versions: " + ", ".join(f"{fw} {headers[fw].get('version', '?')}" for fw in frameworks)
    )
    out.append("")
    out.append("Median milliseconds per run (lower is better)")
    rows = [["workload", *frameworks]]
    for w in workloads:
        rows.append(
            [WORKLOAD_TITLES[w].format(**sizes)] + [_cell(results[fw][w]) for fw in frameworks]
        )
    out.append(_table(rows))

    peers = [p for p in PEERS if p in frameworks]
    if OURS in frameworks and (peers or "floor" in frameworks):
        out.append("")
        out.append("Ratios: peer median / agentic_nb median (times faster agentic_nb is)")
        head = ["workload"] + [f"{p}/agentic_nb" for p in peers]
        if "floor" in frameworks:
            head.append("agentic_nb/floor")
        rows = [head]
        for w in workloads:
            ours = results[OURS][w]
            row = [w]
            for p in peers:
                row.append(_fmt_ratio(*_ratio(results[p][w], ours)))
            if "floor" in frameworks:
                row.append(_fmt_ratio(*_ratio(ours, results["floor"][w])))
            rows.append(row)
        out.append(_table(rows))

        targets = [t for t in TARGETS if t[0] in workloads and t[1] in frameworks]
        if targets:
            out.append("")
            note = " -- quick sizes, not meaningful" if args.quick else ""
            out.append(f"Targets (issue 2, agentic_nb with events on){note}")
            for w, peer, want in targets:
                value, lower = _ratio(results[peer][w], results[OURS][w])
                if value is None:
                    verdict = "UNKNOWN (no measurement)"
                elif value >= want:
                    verdict = "MET"
                elif lower:
                    verdict = "UNKNOWN (peer timed out)"
                else:
                    verdict = "NOT MET"
                best, best_lower = _ratio(_by_min(results[peer][w]), _by_min(results[OURS][w]))
                out.append(
                    f"  {w:<7} agentic_nb >= {want:g}x faster than {peer:<16} "
                    f"measured {_fmt_ratio(value, lower):>8}  {verdict:<8} "
                    f"(ratio of best runs: {_fmt_ratio(best, best_lower)})"
                )

    notes = []
    for fw in frameworks:
        for w in workloads:
            rec = results[fw][w]
            if rec.get("status") != "ok":
                notes.append(f"  {fw} / {w}: {rec.get('status')}: {rec.get('detail', '')}")
            else:
                detail = f"{rec['detail']}; " if rec.get("detail") else ""
                notes.append(
                    f"  {fw} / {w}: {detail}{rec['reps']} runs, "
                    f"min {rec['min_ms']:.2f} ms, max {rec['max_ms']:.2f} ms"
                )
    if notes:
        out.append("")
        out.append("Notes (min/max show the noise of a shared machine)")
        out.extend(notes)
    return "\n".join(out)


def _select(only: list[str]) -> tuple[list[str], list[str]]:
    tokens = [t.strip() for o in only for t in o.split(",") if t.strip()]
    unknown = [t for t in tokens if t not in FRAMEWORKS and t not in WORKLOADS]
    if unknown:
        raise SystemExit(
            f"--only: unknown name(s) {unknown}; frameworks are {list(FRAMEWORKS)}, "
            f"workloads are {list(WORKLOADS)}"
        )
    fws = [f for f in FRAMEWORKS if f in tokens] or list(FRAMEWORKS)
    wls = [w for w in WORKLOADS if w in tokens] or list(WORKLOADS)
    return fws, wls


def _profile(args: argparse.Namespace, framework: str, workload: str) -> None:
    module = _load(framework)
    case = module.make_case(workload, Sizes(args.chain, args.width))
    if isinstance(case, str):
        raise SystemExit(f"{framework} / {workload}: {case}")
    assert isinstance(case, Case)

    async def go() -> None:
        problem = await case.check(await case.run())
        if problem is not None:
            raise SystemExit(f"{framework} / {workload} gives a wrong result: {problem}")
        for _ in range(args.warmup):
            await case.run()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.reps):
            await case.run()
        prof.disable()
        stats = pstats.Stats(prof, stream=sys.stdout)
        print(f"cProfile of {framework} / {workload}, {args.reps} runs")
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(25)

    asyncio.run(go())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes and few runs (smoke test)")
    ap.add_argument("--reps", type=int, default=None, help="timed runs per workload (15)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed runs first (2)")
    ap.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAMES",
        help=f"comma-separated frameworks {list(FRAMEWORKS)} and/or workloads {list(WORKLOADS)}",
    )
    ap.add_argument("--chain", type=int, default=None, help="chain length (1000)")
    ap.add_argument("--width", type=int, default=None, help="fan-out width (100)")
    ap.add_argument("--run-timeout", type=float, default=20.0, help="s allowed for one run")
    ap.add_argument("--budget", type=float, default=20.0, help="s of timed runs per workload")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (3)")
    ap.add_argument("--json", type=Path, default=None, help="also write all results here")
    ap.add_argument("--profile", choices=WORKLOADS, default=None, help="cProfile one workload")
    ap.add_argument("--worker", choices=FRAMEWORKS, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    default_sizes = QUICK_SIZES if args.quick else Sizes()
    args.chain = args.chain or default_sizes.chain
    args.width = args.width or default_sizes.width
    args.reps = args.reps if args.reps is not None else (3 if args.quick else 15)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    if args.chain < 2 or args.width < 2 or args.reps < 1 or args.warmup < 0 or args.rounds < 1:
        raise SystemExit(
            "--chain and --width must be >= 2, --reps and --rounds >= 1, --warmup >= 0"
        )

    if args.worker is not None:
        _worker(args.worker, Sizes(args.chain, args.width), args.warmup, args.run_timeout)
        return 0

    frameworks, workloads = _select(args.only)
    if args.profile is not None:
        _profile(args, frameworks[0], args.profile)
        return 0

    t = time.perf_counter()
    headers, results = _measure_all(args, frameworks, workloads)
    _log(f"measured in {time.perf_counter() - t:.0f} s")
    print(_report(args, frameworks, workloads, headers, results))
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "date": dt.datetime.now().isoformat(timespec="seconds"),
                    "machine": f"{platform.system()} {platform.machine()}",
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "sizes": {"chain": args.chain, "width": args.width},
                    "headers": headers,
                    "results": results,
                },
                indent=2,
            )
        )
    broken = [
        f"{fw}/{w}"
        for fw in frameworks
        for w in workloads
        if results[fw][w].get("status") in ("wrong", "error")
    ]
    if broken:
        print(f"\nFAILED: {', '.join(broken)} (see Notes)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
