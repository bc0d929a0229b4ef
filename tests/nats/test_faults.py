"""Faults against real nats-server processes started by the tests."""

from __future__ import annotations

import asyncio
import re
import warnings
from typing import Any

import pytest

from agentic_nb.nats import (
    EventsDropped,
    LocalNatsServer,
    NatsConnectionError,
    NatsEventSink,
    connect,
)
from agentic_nb.nats._server import free_port

from .helpers import chain, stream_count


async def test_nats_down_before_run_raises_naming_the_url() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    with pytest.raises(NatsConnectionError, match=re.escape(url)):
        await connect(url)
    with pytest.raises(NatsConnectionError, match=r"127\.0\.0\.1"):
        await NatsEventSink(url=url).start()


async def test_nats_down_before_run_buffer_fallback_publishes_later() -> None:
    server = LocalNatsServer()  # port reserved, not started yet
    try:
        sink = NatsEventSink(url=server.url, on_unavailable="buffer")
        with pytest.warns(RuntimeWarning, match="buffered in-process"):
            await sink.start()
        result = await chain(5).run(0, event_sinks=[sink])
        assert result.status == "completed"  # the run never waited for NATS
        assert sink.stats.published == 0 and sink.stats.pending == len(result.events)
        server.start()
        stats = await sink.flush(timeout=20)
        assert stats.published == len(result.events) and stats.lost == 0
        nc = await connect(server.url)
        assert await stream_count(nc.jetstream(), result.run_id) == len(result.events)
        await nc.close()
        await sink.aclose()
    finally:
        server.close()


async def test_killed_and_restarted_mid_run() -> None:
    with LocalNatsServer() as server:
        sink = await NatsEventSink(url=server.url, ack_timeout=1.0).start()
        wf = chain(40, delay=0.02)
        run = wf.start(0, event_sinks=[sink])
        sink.attach(run)
        driver = asyncio.ensure_future(run.until_idle())
        await asyncio.sleep(0.25)
        server.stop(kill=True)  # crash
        await asyncio.sleep(0.3)
        server.start()  # same port, same store
        result = await driver
        assert result.status == "completed" and result.outputs == [40]
        stats = await sink.flush(timeout=30)
        nc = await connect(server.url)
        stored = await stream_count(nc.jetstream(), run.run_id)
        # Nothing was dropped (the buffer was big enough), so everything arrived once.
        assert stats.lost == 0
        assert stored == len(run.events)
        await nc.close()
        await sink.aclose()


async def test_lost_events_are_counted_and_reported_in_the_run() -> None:
    with LocalNatsServer() as server:
        sink = await NatsEventSink(url=server.url, max_buffer=5, ack_timeout=0.5).start()
        server.stop(kill=True)
        wf = chain(10)
        run = wf.start(0, event_sinks=[sink])
        sink.attach(run)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = await run.until_idle()
            assert result.status == "completed"
            server.start()
            stats = await sink.flush(timeout=30)
        reports = run.events.of_type(EventsDropped)
        assert stats.dropped > 0
        assert reports and reports[-1].dropped == stats.dropped
        assert any("not published" in str(w.message) for w in caught)
        nc = await connect(server.url)
        stored = await stream_count(nc.jetstream(), run.run_id)
        # What arrived + what was dropped accounts for every event of the run.
        assert stored + stats.dropped == len(run.events)
        await nc.close()
        await sink.aclose()


async def test_slow_consumer_does_not_slow_the_run(nc: Any, nats_server: LocalNatsServer) -> None:
    slow_nc = await connect(nats_server.url)
    got: list[str] = []

    async def slow(msg: Any) -> None:
        got.append(msg.subject)
        await asyncio.sleep(0.5)

    await slow_nc.subscribe("agentic.>", cb=slow, pending_msgs_limit=10)
    sink = await NatsEventSink(nc).start()
    result = await chain(100).run(0, event_sinks=[sink])
    stats = await sink.flush(timeout=20)
    assert result.status == "completed"
    assert stats.lost == 0
    assert await stream_count(nc.jetstream(), result.run_id) == len(result.events)
    assert len(got) < len(result.events)  # the slow subscriber really fell behind
    await slow_nc.close()
    await sink.aclose()
