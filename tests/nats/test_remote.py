"""Requests answered from another process, and watching a run from elsewhere."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from agentic_nb.nats import NatsEventSink, RequestBridge, answer, runs, watch
from agentic_nb.workflow import RequestError

from .helpers import approval_workflow


async def _waiting_run(nc: Any) -> tuple[Any, NatsEventSink, RequestBridge]:
    sink = await NatsEventSink(nc).start()
    run = approval_workflow().start("deploy?", event_sinks=[sink])
    sink.attach(run)
    await run.until_idle()
    assert run.status == "waiting"
    bridge = await RequestBridge(run, nc, sink=sink).start()
    return run, sink, bridge


async def test_answer_twice_first_kept(nc: Any) -> None:
    run, sink, bridge = await _waiting_run(nc)
    rid = run.pending_requests[0].request_id
    await answer(run.run_id, rid, True, connection=nc, who="alice", why="ok")
    with pytest.raises(RequestError, match="already answered"):
        await answer(run.run_id, rid, False, connection=nc)
    await bridge.wait_idle()
    assert run.outputs == ["approved"]
    await sink.flush()
    await bridge.aclose()
    await sink.aclose()


async def test_wrong_type_unknown_request_and_no_bridge(nc: Any) -> None:
    run, sink, bridge = await _waiting_run(nc)
    rid = run.pending_requests[0].request_id
    with pytest.raises(RequestError):
        await answer(run.run_id, rid, "not a bool", connection=nc)
    with pytest.raises(RequestError, match="no pending request"):
        await answer(run.run_id, "nope", True, connection=nc)
    assert run.pending_requests[0].request_id == rid  # still pending
    with pytest.raises(TimeoutError, match="no process serves"):
        await answer("other-run", rid, True, connection=nc, timeout=0.5)
    await bridge.aclose()
    await sink.aclose()


async def test_watch_replays_then_follows_and_answers(nc: Any) -> None:
    run, sink, bridge = await _waiting_run(nc)
    await sink.flush()
    remote = await watch(run.run_id, connection=nc)
    assert remote.status == "waiting"
    assert remote.workflow.name == "approval"
    assert [e.id for e in remote.workflow.executors] == ["ask", "finish"]
    assert [e.seq for e in remote.events] == [e.seq for e in run.events]
    seen: list[str] = []
    unsubscribe = remote.subscribe(lambda ev: seen.append(ev.type))
    rid = remote.pending_requests[0].request_id
    await remote.respond(rid, True)
    await remote.until_idle(timeout=10)
    assert remote.status == "completed"
    assert remote.outputs == ["approved"] == run.outputs
    await sink.flush()
    await remote.wait_for(lambda r: len(r.events) == len(run.events), timeout=10)
    assert [e.type for e in remote.events] == [e.type for e in run.events]
    assert "RequestAnswered" in seen and "WorkflowCompleted" in seen
    unsubscribe()
    frame = remote.events.to_dataframe()
    assert len(frame) == len(run.events)
    infos = await runs(connection=nc)
    assert infos[0].run_id == run.run_id and infos[0].status == "completed"
    await remote.aclose()
    await bridge.aclose()
    await sink.aclose()


SERVICE = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, {root!r})
    from tests.nats.helpers import approval_workflow
    from agentic_nb.nats import NatsEventSink, RequestBridge, connect

    async def main():
        nc = await connect({url!r})
        sink = await NatsEventSink(nc).start()
        run = approval_workflow().start("deploy?", run_id="svc-run", event_sinks=[sink])
        sink.attach(run)
        bridge = await RequestBridge(run, nc, sink=sink).start()
        await run.until_idle()
        while run.status not in ("completed", "failed"):
            await asyncio.sleep(0.05)
        await sink.aclose(); await bridge.aclose(); await nc.close()
        print("DONE", run.outputs)

    asyncio.run(main())
    """
)


async def test_a_run_in_another_process_is_watched_and_approved(
    nc: Any, nats_server: Any, tmp_path: Any
) -> None:
    import pathlib

    root = str(pathlib.Path(__file__).parent.parent.parent)
    script = tmp_path / "service.py"
    script.write_text(SERVICE.format(root=root, url=nats_server.url))
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        remote = await watch("svc-run", connection=nc, wait_started=20)
        await remote.wait_for(lambda r: r.status == "waiting", timeout=20)
        await remote.respond(remote.pending_requests[0].request_id, False, who="test")
        await remote.until_idle(timeout=20)
        assert remote.status == "completed" and remote.outputs == ["rejected"]
        out, err = await asyncio.to_thread(proc.communicate, timeout=30)
        assert b"DONE ['rejected']" in out, err.decode()
        await remote.aclose()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
