"""A RemoteRun's request cards equal the local ones (issue 11, item 7)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentic_nb.nats import NatsEventSink, RequestBridge, connect, watch
from agentic_nb.widgets import RequestCard

from .helpers import Decision, ask_workflow


def _shape(card: RequestCard) -> dict[str, Any]:
    return {
        "approve": card.approve.disabled,
        "reject": card.reject.disabled,
        "form_shown": card.form_box.layout.display,
        "inputs": {k: type(v).__name__ for k, v in card.form.inputs.items()},
        "structured": card.form.structured,
        "header": card.header.value,
    }


@pytest.mark.parametrize(
    ("response_type", "expected"),
    [(bool, True), (Decision, Decision(approved=True, note="", budget=0))],
)
async def test_remote_card_equals_local_and_answers(
    nc: Any, nats_server: Any, response_type: Any, expected: Any
) -> None:
    sink = await NatsEventSink(nc).start()
    run = ask_workflow(response_type).start("deploy?", event_sinks=[sink])
    await run.until_idle()
    bridge = await RequestBridge(run, nc, sink=sink).start()
    await sink.flush()
    other = await connect(nats_server.url)  # the watcher has its own connection
    remote = await watch(run.run_id, connection=other)
    local_card = RequestCard(run, run.pending_requests[0])
    remote_card = RequestCard(remote, remote.pending_requests[0])
    assert remote.pending_requests[0].response_type is response_type
    assert _shape(remote_card) == _shape(local_card)
    assert remote_card.approve.disabled is False
    remote_card.approve.click()
    assert remote_card.last_task is not None
    await asyncio.wait_for(remote_card.last_task, 10)
    assert remote_card.error.value == "" and remote_card.answered
    await bridge.wait_idle()
    assert run.outputs == [expected]
    await remote.aclose()
    await other.close()
    await bridge.aclose()
    await sink.aclose()
