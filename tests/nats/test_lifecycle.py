"""Sink lifecycle, oversized events and the final state mirror (issue 11, items 1, 2, 5)."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.nats import NatsEventSink, connect, runs
from agentic_nb.nats._server import free_port
from agentic_nb.nats._streams import EVENTS_STREAM, STATE_BUCKET
from agentic_nb.nats._subjects import run_filter
from agentic_nb.workflow import Output

from .helpers import chain, stream_count


async def test_a_sink_never_started_starts_itself_on_the_runs_loop(nc: Any) -> None:
    sink = NatsEventSink(nc)  # no await sink.start(): the builder example's mistake
    result = await chain(5).run(0, event_sinks=[sink])
    stats = await sink.aclose()
    assert result.status == "completed"
    assert stats.published == len(result.events) and stats.lost == 0
    assert await stream_count(nc.jetstream(), result.run_id) == len(result.events)


async def test_a_sink_that_cannot_start_says_so_and_counts_unsent() -> None:
    url = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    sink = NatsEventSink(url=url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = await chain(3).run(0, event_sinks=[sink])
        stats = await sink.aclose()
    messages = [str(w.message) for w in caught]
    assert any("could not start itself" in m and "127.0.0.1" in m for m in messages), messages
    assert any(f"{len(result.events)} events unpublished" in m for m in messages), messages
    assert stats.unsent == len(result.events) and stats.published == 0
    assert stats.error is not None and "NatsConnectionError" in stats.error


def _big_output_workflow(size: int) -> Any:
    @executor(id="big")
    async def big(x: str, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(x * size)

    return WorkflowBuilder(name="big", start=big).build()


async def test_a_2mb_event_is_truncated_and_the_next_run_arrives_whole(nc: Any) -> None:
    sink = await NatsEventSink(nc, ack_timeout=2.0).start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        big = await _big_output_workflow(2 * 1024 * 1024).run("x", event_sinks=[sink])
        normal = await chain(6).run(0, event_sinks=[sink])
        stats = await sink.flush(timeout=20)
    assert big.status == normal.status == "completed"
    js = nc.jetstream()
    assert await stream_count(js, big.run_id) == len(big.events)
    assert await stream_count(js, normal.run_id) == len(normal.events)
    assert stats.truncated == 1 and stats.lost == 0 and stats.rejected == 0
    warned = [str(w.message) for w in caught if "max_payload" in str(w.message)]
    assert warned and "unreachable" not in warned[0]
    assert str(nc.max_payload) in warned[0]
    sub = await js.subscribe(
        run_filter(big.run_id) + "", stream=EVENTS_STREAM, ordered_consumer=True
    )
    msgs = [await sub.next_msg(2) for _ in range(len(big.events))]
    out = [m for m in msgs if m.subject.endswith(".output")]
    assert len(out) == 1 and int(out[0].headers["Agentic-Truncated"]) > 2 * 1024 * 1024
    assert b"<truncated: " in out[0].data and len(out[0].data) < nc.max_payload
    # The full output is still in the run's local event log.
    assert len(big.events.of_type(Output)[0].data) == 2 * 1024 * 1024
    infos = {i.run_id: i.status for i in await runs(connection=nc)}
    assert infos[big.run_id] == infos[normal.run_id] == "completed"
    await sink.aclose()


def _stateful_workflow() -> Any:
    @executor(id="count")
    async def count(n: int, ctx: WorkflowContext[int, int]) -> None:
        await ctx.set_state("count", n)
        if n < 3:
            await ctx.send_message(n + 1)
        else:
            await ctx.yield_output(n)

    return (
        WorkflowBuilder(name="stateful", start=count, max_supersteps=10)
        .add_edge(count, count)
        .build()
    )


async def _kv_state(nc: Any, run_id: str) -> dict[str, Any]:
    from agentic_nb.nats import watch

    remote = await watch(run_id, connection=nc)
    try:
        return await remote.load_state()
    finally:
        await remote.aclose()


@pytest.mark.parametrize("closing", ["aclose", "flush"])
async def test_final_state_is_in_kv_after_a_fast_run(nc: Any, closing: str) -> None:
    sink = NatsEventSink(nc)
    await sink.start()
    result = await _stateful_workflow().run(0, event_sinks=[sink])
    assert result.outputs == [3]
    if closing == "aclose":
        await sink.aclose()
    else:
        await sink.flush()
    assert await _kv_state(nc, result.run_id) == {"count": 3}
    if closing == "flush":
        await sink.aclose()


async def test_run_record_says_completed_only_after_the_state_is_stored(nc: Any) -> None:
    """A second process that sees 'completed' in agentic_runs finds the final state."""
    other = await connect(nc.connected_url.geturl())
    js = other.jetstream()
    sink = await NatsEventSink(nc).start()
    seen: list[Any] = []

    async def on_record(msg: Any) -> None:
        body = json.loads(msg.data)
        if body.get("status") == "completed":
            kv = await js.key_value(STATE_BUCKET)
            keys = await kv.keys()
            seen.append([k for k in keys if "count" in k])

    await other.subscribe("$KV.agentic_runs.>", cb=on_record)
    result = await _stateful_workflow().run(0, event_sinks=[sink])
    await sink.aclose()
    await other.flush()
    import asyncio

    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.02)
    assert result.status == "completed"
    assert seen and seen[0], "the run was reported completed before its state was stored"
    await other.close()
