"""Nested runs and the waiting status (issue 11, item 4)."""

from __future__ import annotations

import asyncio
import pathlib
import subprocess
import sys
import textwrap
from typing import Any

from agentic_nb.nats import NatsEventSink, runs, watch
from agentic_nb.nats._streams import EVENTS_STREAM
from agentic_nb.nats._subjects import run_filter
from agentic_nb.nats._tracker import RunTracker

from .helpers import parent_of, sibling_approval_workflow


async def test_first_request_does_not_mark_waiting_while_a_sibling_runs() -> None:
    run = sibling_approval_workflow(0.2).start("q")
    await run.until_idle()
    assert run.status == "waiting"
    tracker = RunTracker(run.run_id)
    statuses = []
    for ev in run.events:
        tracker.apply(ev)
        statuses.append((ev.type, ev.executor_id, tracker.status))
    asked = next(i for i, s in enumerate(statuses) if s[0] == "RequestInfo")
    slow_done = next(
        i for i, s in enumerate(statuses) if s[0] == "ExecutorCompleted" and s[1] == "slow"
    )
    assert asked < slow_done, statuses  # the sibling really was still running
    assert all(s[2] == "running" for s in statuses[asked:slow_done]), statuses
    assert statuses[-1][2] == "waiting"


async def test_parent_keeps_its_own_status_name_and_outputs(nc: Any) -> None:
    sink = await NatsEventSink(nc).start()
    run = parent_of(sibling_approval_workflow(0.05)).start("x", event_sinks=[sink])
    await run.until_idle()
    assert run.status == "waiting"
    await sink.flush()
    remote = await watch(run.run_id, connection=nc)
    assert remote.status == "waiting"
    assert remote.workflow.name == "parent" and remote._tracker.workflow == "parent"
    assert remote.outputs == []
    assert [r.executor_id for r in remote.pending_requests] == ["sub"]
    info = {i.run_id: i for i in await runs(connection=nc)}[run.run_id]
    assert (info.workflow, info.status, info.pending_requests) == (
        "parent",
        "waiting",
        (run.pending_requests[0].request_id,),
    )
    # Child events are told apart by their subject: agentic.executor.<run>.<path>.workflow.*
    js = nc.jetstream()
    sub = await js.subscribe(run_filter(run.run_id), stream=EVENTS_STREAM, ordered_consumer=True)
    subjects = [(await sub.next_msg(2)).subject for _ in range(len(run.events))]
    rid = run.run_id
    assert subjects.count(f"agentic.workflow.{rid}.started") == 1
    assert f"agentic.executor.{rid}.sub.workflow.started" in subjects
    assert f"agentic.executor.{rid}.sub.workflow.superstep.started" in subjects
    run.answer(run.pending_requests[0].request_id, True)
    result = await run.until_idle()
    assert result.outputs == ["parent:slow done+yes"]
    await sink.flush()
    await remote.wait_for(lambda r: r.status == "completed", timeout=10)
    assert remote.outputs == ["parent:slow done+yes"]
    assert f"agentic.executor.{rid}.sub=2Fend.output" in [
        (await sub.next_msg(2)).subject for _ in range(len(run.events) - len(subjects))
    ]
    await remote.aclose()
    await sink.aclose()


SERVICE = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, {root!r})
    from tests.nats.helpers import parent_of, sibling_approval_workflow
    from agentic_nb.nats import NatsEventSink, RequestBridge, connect

    async def main():
        nc = await connect({url!r})
        sink = NatsEventSink(nc)  # started by the run itself
        run = parent_of(sibling_approval_workflow(0.3)).start(
            "x", run_id="nested-run", event_sinks=[sink]
        )
        bridge = await RequestBridge(run, nc, sink=sink).start()
        await run.until_idle()
        while run.status not in ("completed", "failed"):
            await asyncio.sleep(0.05)
        await sink.aclose(); await bridge.aclose(); await nc.close()
        print("DONE", run.outputs)

    asyncio.run(main())
    """
)


async def test_a_parent_with_a_waiting_child_watched_from_another_process(
    nc: Any, nats_server: Any, tmp_path: Any
) -> None:
    root = str(pathlib.Path(__file__).parent.parent.parent)
    script = tmp_path / "service.py"
    script.write_text(SERVICE.format(root=root, url=nats_server.url))
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        remote = await watch("nested-run", connection=nc, wait_started=20)
        seen: list[str] = []
        remote.subscribe(lambda ev: seen.append(remote.status))
        await remote.wait_for(lambda r: r.status == "waiting", timeout=20)
        assert remote.workflow.name == "parent" and remote.outputs == []
        await remote.respond(remote.pending_requests[0].request_id, False, who="test")
        await remote.wait_for(lambda r: r.status == "completed", timeout=20)
        assert remote.outputs == ["parent:no+slow done"]
        assert "completed" not in seen[: seen.index("waiting")] if "waiting" in seen else True
        out, err = await asyncio.to_thread(proc.communicate, timeout=30)
        assert b"DONE ['parent:no+slow done']" in out, err.decode()
        await remote.aclose()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
