"""Subject building: user ids can never inject into another subject."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agentic_nb import WorkflowBuilder, WorkflowContext, executor
from agentic_nb.nats import NatsEventSink, decode_token, encode_token
from agentic_nb.nats._mapping import event_subject
from agentic_nb.nats._subjects import executor_subject, kv_key, request_subject, run_filter
from agentic_nb.workflow import ExecutorCompleted

EVIL = ["a.b", "*", ">", "a b", "x\ty", "victim.completed", "=2E", "", "é.ü", "a.*.>", "\n"]


@given(st.text())
def test_token_is_one_safe_token_and_round_trips(value: str) -> None:
    tok = encode_token(value)
    assert tok
    assert not any(c in tok for c in ".*> \t\r\n")
    assert all(c.isascii() and (c.isalnum() or c in "_-=") for c in tok)
    assert decode_token(tok) == value


@given(st.text(), st.text())
def test_encoding_is_injective(a: str, b: str) -> None:
    if a != b:
        assert encode_token(a) != encode_token(b)


def test_plain_ids_are_unchanged() -> None:
    assert encode_token("upper_case-1") == "upper_case-1"
    assert executor_subject("r1", "upper", "completed") == "agentic.executor.r1.upper.completed"


def test_evil_ids_keep_the_subject_shape() -> None:
    for evil in EVIL:
        subj = executor_subject(evil, evil, "completed")
        assert subj.split(".")[:2] == ["agentic", "executor"]
        assert len(subj.split(".")) == 5, subj
        assert subj.endswith(".completed")
        assert "*" not in subj and ">" not in subj and " " not in subj
        assert len(request_subject(evil, evil).split(".")) == 5
        assert len(kv_key("edge", evil, evil, "data", ids=(1, 2)).split(".")) == 4
        assert len(run_filter(evil).split(".")) == 4


def test_event_subject_for_an_injecting_executor_id() -> None:
    ev = ExecutorCompleted(run_id="r.1", executor_id="victim.completed")
    subj = event_subject(ev)
    assert subj == "agentic.executor.r=2E1.victim=2Ecompleted.completed"


async def test_injection_attempt_reaches_no_other_subject(nc: Any) -> None:
    """An executor named like another run's subject publishes only under its own run."""

    @executor(id="victim.completed.>")
    async def evil(x: str, ctx: WorkflowContext[None, str]) -> None:
        await ctx.yield_output(x)

    seen_victim: list[str] = []
    seen_all: list[str] = []

    async def on_victim(msg: Any) -> None:
        seen_victim.append(msg.subject)

    async def on_all(msg: Any) -> None:
        seen_all.append(msg.subject)

    # Another run "victim" and its executors: nothing of the evil run may land there.
    await nc.subscribe("agentic.*.victim.>", cb=on_victim)
    await nc.subscribe("agentic.executor.*.victim.>", cb=on_victim)
    await nc.subscribe("agentic.>", cb=on_all)
    sink = await NatsEventSink(nc).start()
    wf = WorkflowBuilder(start=evil).build()
    result = await wf.run("x", run_id="attacker.victim", event_sinks=[sink])
    await sink.flush()
    await nc.flush()
    await asyncio.sleep(0.1)
    assert result.status == "completed"
    assert seen_victim == []
    events_subjects = [
        s for s in seen_all if not s.startswith(("$", "_INBOX", "agentic.audit", "agentic.metrics"))
    ]
    assert len(events_subjects) == len(result.events)
    assert all(s.split(".")[2] == "attacker=2Evictim" for s in events_subjects)
    await sink.aclose()
