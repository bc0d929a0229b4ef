"""Overhead of NatsEventSink on a 1,000-executor chain with a local nats-server.

Prints the best (least disturbed) of interleaved repeats: the run without any
sink, with a no-op sink (the engine then builds every event object, which it
otherwise does lazily), and with NatsEventSink; the two ratios; and the extra
time until JetStream acknowledged everything (publishing runs in the background).
It also prints the median *CPU* time of this process during each run (``cpu``):
on a shared, loaded machine wall times swing by 2x between repeats, while CPU time
still shows what the sink adds to the run (its publishing task shares the loop).

    .venv/bin/python bench/nats_sink.py [--n 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.nats import LocalNatsServer, NatsEventSink, connect


def chain(n: int) -> Any:
    def make(i: int) -> Any:
        last = i == n - 1

        async def step(x: int, ctx: WorkflowContext[int, int]) -> None:
            if last:
                await ctx.yield_output(x + 1)
            else:
                await ctx.send_message(x + 1)

        return executor(id=f"s{i}")(step)

    execs = [make(i) for i in range(n)]
    return (
        WorkflowBuilder(name="chain", start=execs[0], max_supersteps=n + 5).add_chain(execs).build()
    )


class NoopSink:
    def emit(self, event: Any) -> None:
        pass


async def main(n: int, repeat: int, url: str, **sink_opts: Any) -> dict[str, float]:
    wf = chain(n)
    nc = await connect(url)
    sink = await NatsEventSink(nc, **sink_opts).start()
    await wf.run(0)  # warm up
    base, noop, with_sink, drain = [], [], [], []
    cpu_base, cpu_sink = [], []
    events = 0
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        await wf.run(0)
        base.append(time.perf_counter() - t0)
        cpu_base.append(time.process_time() - c0)
        t0 = time.perf_counter()
        await wf.run(0, event_sinks=[NoopSink()])
        noop.append(time.perf_counter() - t0)
        t0, c0 = time.perf_counter(), time.process_time()
        res = await wf.run(0, event_sinks=[sink])
        t1 = time.perf_counter()
        cpu_sink.append(time.process_time() - c0)
        with_sink.append(t1 - t0)
        stats = await sink.flush(timeout=120)
        drain.append(time.perf_counter() - t1)
        events = len(res.events)
        assert stats.lost == 0, stats
    await sink.aclose()
    await nc.close()
    # min of interleaved runs: the machine is shared, the fastest run is the least disturbed
    b, o, s, d = min(base), min(noop), min(with_sink), statistics.median(drain)
    return {
        "events": events,
        "base": b,
        "noop": o,
        "sink": s,
        "ratio": s / b,
        "own": s / o,
        "drain": d,
        "cpu_base": statistics.median(cpu_base),
        "cpu_sink": statistics.median(cpu_sink),
        "cpu_ratio": statistics.median(cpu_sink) / statistics.median(cpu_base),
        "cpu_spread": (min(cpu_sink) / min(cpu_base), max(cpu_sink) / max(cpu_base)),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    with LocalNatsServer() as server:
        for label, opts in (
            ("events+audit+metrics+kv", {}),
            ("events only", {"audit": False, "metrics": False, "kv": False}),
        ):
            r = asyncio.run(main(args.n, args.repeat, server.url, **opts))
            print(
                f"{args.n}-chain, {r['events']:.0f} events, {label}: no sink "
                f"{r['base'] * 1000:.1f} ms, no-op sink {r['noop'] * 1000:.1f} ms, NATS sink "
                f"{r['sink'] * 1000:.1f} ms; ratio vs no sink {r['ratio']:.3f}, vs no-op sink "
                f"{r['own']:.3f}; then {r['drain'] * 1000:.0f} ms until JetStream acked all; "
                f"cpu median no sink {r['cpu_base'] * 1000:.1f} ms, NATS sink "
                f"{r['cpu_sink'] * 1000:.1f} ms, ratio {r['cpu_ratio']:.3f} (min/min "
                f"{r['cpu_spread'][0]:.3f}, max/max {r['cpu_spread'][1]:.3f})"
            )
