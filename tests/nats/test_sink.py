"""The event sink against a real JetStream: every event stored, with its subject and hash."""

from __future__ import annotations

import json
from typing import Any

from agentic_nb.nats import NatsEventSink, runs
from agentic_nb.nats._streams import AUDIT_STREAM, EVENTS_STREAM, METRICS_STREAM, ensure_streams
from agentic_nb.nats._subjects import run_filter
from agentic_nb.workflow import MessageSent

from .helpers import chain, stream_count


async def test_every_event_of_a_run_is_in_the_stream(nc: Any) -> None:
    sink = await NatsEventSink(nc).start()
    wf = chain(300)
    other = chain(3, prefix="other")
    r1 = await wf.run(0, event_sinks=[sink])
    r2 = await other.run(0, event_sinks=[sink])  # a concurrent run never mixes in
    stats = await sink.flush()
    js = nc.jetstream()
    assert r1.outputs == [300]
    assert stats.published == len(r1.events) + len(r2.events)
    assert stats.lost == 0
    assert await stream_count(js, r1.run_id) == len(r1.events)
    assert await stream_count(js, r2.run_id) == len(r2.events)
    await sink.aclose()


async def test_subjects_payloads_and_sha256(nc: Any) -> None:
    sink = await NatsEventSink(nc).start()
    result = await chain(3).run(1, event_sinks=[sink])
    await sink.flush()
    js = nc.jetstream()
    sub = await js.subscribe(run_filter(result.run_id), stream=EVENTS_STREAM, ordered_consumer=True)
    got = [await sub.next_msg(2) for _ in range(len(result.events))]
    subjects = [m.subject for m in got]
    run = result.run_id
    assert subjects[0] == f"agentic.workflow.{run}.started"
    assert f"agentic.workflow.{run}.superstep.started" in subjects
    assert f"agentic.executor.{run}.step0.started" in subjects
    assert f"agentic.executor.{run}.step0.completed" in subjects
    assert f"agentic.workflow.{run}.output" in subjects
    assert subjects[-1] == f"agentic.workflow.{run}.completed"
    sent = result.events.of_type(MessageSent)
    edge_msgs = [m for m in got if m.subject.startswith("agentic.edge.")]
    assert len(edge_msgs) == len(sent) == 2
    for ev, msg in zip(sent, edge_msgs):
        assert msg.subject == f"agentic.edge.{run}.{ev.edge}.activated".replace(">", "=3E")
        assert msg.headers["Agentic-Sha256"] == ev.sha256
        assert msg.headers["Nats-Msg-Id"] == f"{run}:{ev.seq}"
    metrics = await js.stream_info(METRICS_STREAM)
    assert metrics.state.messages >= 3  # one per executor at least
    audit = await js.stream_info(AUDIT_STREAM)
    assert audit.state.messages >= 1  # the outcome
    # KV: edge data with hash and timestamp; executor output; the run record
    edges = await js.key_value("agentic_edges")
    keys = await edges.keys()
    assert len(keys) == 2
    body = json.loads((await edges.get(keys[0])).value)
    assert {"payload", "hash", "timestamp", "source", "target"} <= set(body)
    infos = await runs(connection=nc)
    assert [(i.run_id, i.status) for i in infos] == [(run, "completed")]
    await sink.aclose()


async def test_streams_are_idempotent_and_limited(nc: Any) -> None:
    js = nc.jetstream()
    first = await ensure_streams(js)
    again = await ensure_streams(js)
    assert set(first) == set(again) == {EVENTS_STREAM, AUDIT_STREAM, METRICS_STREAM}
    info = await js.stream_info(EVENTS_STREAM)
    assert info.config.max_age == 7 * 24 * 3600
    assert info.config.max_bytes == 1024 * 1024 * 1024
    assert (await js.stream_info(AUDIT_STREAM)).config.max_age == 90 * 24 * 3600
