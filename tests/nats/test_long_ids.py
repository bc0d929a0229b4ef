"""Ids of any length and content against a real server (issue 11, item 3)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agentic_nb.nats as nats_pkg
from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.nats import (
    MAX_TOKEN,
    LocalNatsServer,
    NatsEventSink,
    NatsKvCheckpointStorage,
    RequestBridge,
    answer,
    connect,
    decode_token,
    encode_token,
    resolve_token,
    runs,
    watch,
)
from agentic_nb.nats._subjects import executor_subject, kv_key, request_subject

from .helpers import chain, stream_count

LONG = "r" * 5000


@given(st.text(max_size=3000))
def test_tokens_are_bounded_and_decodable(value: str) -> None:
    tok = encode_token(value)
    assert 0 < len(tok) <= MAX_TOKEN
    assert all(c.isascii() and (c.isalnum() or c in "_-=") for c in tok)
    assert decode_token(tok) == value


def test_long_tokens_stay_unique_and_subjects_stay_short() -> None:
    a, b = "x" * 4000 + "a", "x" * 4000 + "b"
    assert encode_token(a) != encode_token(b)
    assert encode_token(a).startswith("x" * 40)
    subj = executor_subject(LONG, "é" * 3000, "completed")
    assert len(subj) < 4 * MAX_TOKEN and len(subj.split(".")) == 5
    assert len(request_subject(LONG, LONG)) < 3 * MAX_TOKEN
    assert len(kv_key("edge", LONG, LONG, "data", ids=(1, 2))) < 3 * MAX_TOKEN


def _one(executor_id: str) -> Any:
    @executor(id=executor_id)
    async def one(x: int, ctx: WorkflowContext[None, int]) -> None:
        await ctx.set_state(executor_id, x)
        await ctx.yield_output(x)

    return WorkflowBuilder(name="one", start=one).build()


async def test_a_5000_char_run_id_and_executor_id_keep_the_connection(nc: Any) -> None:
    sink = await NatsEventSink(nc).start()
    first = await _one("e" * 5000).run(1, run_id=LONG, event_sinks=[sink])
    later = await chain(4).run(0, event_sinks=[sink])  # the next run on the same connection
    stats = await sink.flush(timeout=20)
    assert nc.is_connected and stats.lost == 0 and stats.rejected == 0
    js = nc.jetstream()
    assert await stream_count(js, LONG) == len(first.events)
    assert await stream_count(js, later.run_id) == len(later.events)
    # Decodable from a second connection through the agentic_ids lookup.
    other = await connect(nc.connected_url.geturl())
    assert await resolve_token(encode_token(LONG), connection=other) == LONG
    remote = await watch(LONG, connection=other)
    assert remote.status == "completed" and remote.outputs == [1]
    assert await remote.load_state() == {"e" * 5000: 1}
    assert LONG in {i.run_id for i in await runs(connection=other)}
    await remote.aclose()
    await other.close()
    await sink.aclose()


async def test_a_5000_char_run_id_with_kv_checkpoints(nc: Any) -> None:
    storage = NatsKvCheckpointStorage(nc)
    result = await chain(3).run(0, run_id=LONG, checkpoint_storage=storage)
    assert result.status == "completed"
    assert nc.is_connected
    assert (await storage.latest(LONG)) is not None
    later = await chain(2).run(0, checkpoint_storage=storage)
    assert later.status == "completed" and nc.is_connected


def _ask(executor_id: str) -> Any:
    @executor(id=executor_id)
    async def ask(q: str, ctx: WorkflowContext[None, str]) -> None:
        ok = await ctx.request_info(q, response_type=bool)
        await ctx.yield_output("yes" if ok else "no")

    return WorkflowBuilder(name="ask", start=ask).build()


async def _fuzz_once(url: str, run_id: str, executor_id: str) -> None:
    nc = await connect(url)
    try:
        sink = await NatsEventSink(nc).start()
        storage = NatsKvCheckpointStorage(nc)
        run = _ask(executor_id).start(
            "q", run_id=run_id, event_sinks=[sink], checkpoint_storage=storage
        )
        await run.until_idle()
        bridge = await RequestBridge(run, nc, sink=sink).start()
        rid = run.pending_requests[0].request_id
        reply = await answer(run_id, rid, True, connection=nc)
        assert reply["ok"]
        await bridge.wait_idle()
        assert run.outputs == ["yes"]
        stats = await sink.flush(timeout=20)
        assert stats.lost == 0 and stats.rejected == 0
        assert await stream_count(nc.jetstream(), run_id) == len(run.events)
        assert (await storage.latest(run_id)) is not None
        assert nc.is_connected and not nc.is_closed
        await bridge.aclose()
        await sink.aclose()
    finally:
        await nc.close()


_ids = st.one_of(
    st.text(min_size=1, max_size=40),
    st.text(alphabet=st.sampled_from("a.*> \t\n=é/"), min_size=1, max_size=300),
    st.builds(lambda c, n: c * n, st.characters(), st.integers(100, 3000)),
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(run_id=_ids, executor_id=_ids)
def test_fuzzed_ids_through_sink_and_bridge_never_close_the_connection(
    nats_server: LocalNatsServer, run_id: str, executor_id: str
) -> None:
    asyncio.run(_fuzz_once(nats_server.url, run_id, executor_id))


async def test_request_bridge_answers_malformed_and_too_deep_bodies(nc: Any) -> None:
    run = _ask("ask").start("q")
    await run.until_idle()
    bridge = await RequestBridge(run, nc).start()
    rid = run.pending_requests[0].request_id
    subject = request_subject(run.run_id, rid)
    deep = b'{"value": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for body in (b"not json", b"[1, 2]", deep, b'{"value": {"__t": "nope"}}', b"\xff\xfe"):
        reply = await nc.request(subject, body, timeout=5)
        assert b'"ok": false' in reply.data, (body[:20], reply.data)
    assert run.pending_requests[0].request_id == rid  # still pending, bridge still serving
    assert (await answer(run.run_id, rid, False, connection=nc))["ok"]
    await bridge.wait_idle()
    assert run.outputs == ["no"]
    await bridge.aclose()


def test_every_name_a_nats_hint_mentions_exists() -> None:
    src = Path(nats_pkg.__file__).parent
    named = set()
    for path in src.glob("*.py"):
        named |= set(re.findall(r"agentic_nb\.nats\.([A-Za-z_]+)", path.read_text()))
    missing = sorted(n for n in named if not hasattr(nats_pkg, n))
    assert not missing, f"hints name agentic_nb.nats.{missing} which does not exist"


async def test_answer_to_a_gone_process_names_real_things(nc: Any) -> None:
    with pytest.raises(TimeoutError) as info:
        await answer("gone-run", "rid", True, connection=nc, timeout=0.3)
    text = str(info.value)
    assert "RequestBridge" in text and "serve)" not in text
    for name in re.findall(r"agentic_nb\.nats\.([A-Za-z_]+)", text):
        assert hasattr(nats_pkg, name), name
