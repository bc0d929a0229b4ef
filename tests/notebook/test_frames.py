"""Events in pandas: the DataFrame, its columns and dtypes, the summaries, the timeline chart."""

from __future__ import annotations

import time

import pandas as pd

from agentic_nb.notebook import (
    COLUMNS,
    durations_summary,
    events_to_dataframe,
    executor_timeline,
    retries_and_failures,
    superstep_summary,
    timeline_chart,
)
from agentic_nb.workflow import (
    ExecutorCompleted,
    ExecutorInvoked,
    MessageSent,
    SuperstepStarted,
)

from .flows import approval_workflow, chain, flaky_workflow, routing_workflow


def test_dataframe_columns_dtypes_and_full_payload_by_seq() -> None:
    result = routing_workflow().run_sync(3)
    df = result.events.to_dataframe()
    assert tuple(df.columns) == COLUMNS
    assert len(df) == len(result.events)
    assert isinstance(df["type"].dtype, pd.CategoricalDtype)
    assert isinstance(df["executor_id"].dtype, pd.CategoricalDtype)
    assert str(df["ts"].dt.tz) == "UTC"
    assert (df["run_id"] == result.run_id).all()
    assert df["seq"].is_monotonic_increasing
    sent = df[df["type"] == "MessageSent"]
    first = sent.iloc[0]
    assert (first.source_id, first.target_id, first.payload_type) == ("start", "pos", "int")
    assert first.edge.startswith("start->switch")
    assert result.events.by_seq(int(first.seq)).payload == 3
    done = df[df["type"] == "ExecutorCompleted"]
    assert (done["status"] == "completed").all() and (done["duration_ms"] >= 0).all()
    assert df.loc[df["type"] == "WorkflowCompleted", "status"].tolist() == ["completed"]


def test_preview_is_truncated_but_payload_is_reachable() -> None:
    long = "x" * 1000
    result = chain(1).run_sync(0)
    ev = MessageSent(source_id="a", target_id="b", edge="a->b", payload_type="str", payload=long)
    ev.seq = 99
    df = events_to_dataframe([*result.events, ev])
    row = df[df["seq"] == 99].iloc[0]
    assert len(row.payload_preview) == 120 and row.payload_preview.endswith("…")


def test_requests_failures_and_checkpoint_columns() -> None:
    from agentic_nb.workflow import InMemoryCheckpointStorage

    wf = approval_workflow(bool, checkpoint_storage=InMemoryCheckpointStorage())
    result = wf.run_sync("cats")
    df = events_to_dataframe(result)
    req = df[df["type"] == "RequestInfo"].iloc[0]
    assert req.status == "waiting" and req.request_id == result.pending_requests[0].request_id
    assert req.executor_id == "review" and req.payload_preview == "A post about cats"
    assert df["checkpoint_id"].notna().sum() >= 1
    failed = events_to_dataframe(flaky_workflow().run_sync(1))
    rows = failed[failed["type"] == "ExecutorFailed"]
    assert rows["status"].tolist() == ["retrying", "failed"]
    assert rows["error_type"].tolist() == ["ValueError", "RuntimeError"]
    assert failed.loc[failed["type"] == "WorkflowFailed", "error_message"].iloc[0]


def test_summaries() -> None:
    result = flaky_workflow().run_sync(1)
    tl = executor_timeline(result)
    assert tl[["executor_id", "attempt", "outcome"]].values.tolist() == [
        ["flaky", 1, "retried"],
        ["flaky", 2, "completed"],
        ["broken", 1, "failed"],
    ]
    assert (tl["end"] >= tl["start"]).all()
    durations = durations_summary(result)
    assert durations.loc["flaky", ["invocations", "completed", "retried"]].tolist() == [2, 1, 1]
    assert durations.loc["broken", "failed"] == 1
    steps = superstep_summary(result)
    assert steps[
        ["superstep", "executors", "invocations", "failures", "messages_sent"]
    ].values.tolist() == [
        [0, "flaky", 2, 1, 1],
        [1, "broken", 1, 1, 0],
    ]
    failures = retries_and_failures(result)
    assert failures[["executor_id", "attempt", "will_retry", "recovered"]].values.tolist() == [
        ["flaky", 1, True, True],
        ["broken", 1, False, False],
    ]
    assert result.events.by_seq(int(failures.iloc[1].seq)).error_type == "RuntimeError"


def test_waiting_invocation_in_timeline() -> None:
    result = approval_workflow(bool).run_sync("cats")
    tl = executor_timeline(result)
    assert tl["outcome"].tolist() == ["completed", "waiting"]


def test_timeline_chart_draws_one_bar_per_invocation() -> None:
    result = flaky_workflow().run_sync(1)
    chart = timeline_chart(result)
    svg = chart._repr_svg_()
    assert chart.rows == ["flaky", "broken"]
    chart_part = svg[: svg.index('<g class="legend">')]  # the legend has swatches too
    assert chart_part.count("<rect ") == 3
    assert 'class="bar retried"' in svg and 'class="bar failed"' in svg
    assert chart_part.count("<line ") == 2  # two supersteps


def test_100k_events_convert_under_a_second() -> None:
    events = []
    seq = 0
    for step in range(10_000):
        for ev in (
            SuperstepStarted(executors=["a"], deliveries=1),
            ExecutorInvoked(message_type="int", source_id="z"),
            MessageSent(
                source_id="a", target_id="b", edge="a->b", payload_type="int", payload=step
            ),
            ExecutorCompleted(duration_ms=0.1),
        ):
            ev.run_id, ev.seq, ev.ts, ev.superstep = "r", seq, 1.7e9 + seq * 1e-4, step
            ev.executor_id = None if isinstance(ev, SuperstepStarted) else "a"
            events.append(ev)
            seq += 1
    events = (events * 3)[:100_000]  # the same 40,000 events repeated: only the count matters
    assert len(events) == 100_000
    t0 = time.process_time()  # CPU time: the 2 shared cores make wall time noisy
    df = events_to_dataframe(events)
    elapsed = time.process_time() - t0
    assert len(df) == 100_000
    assert elapsed < 1.0, f"100,000 events took {elapsed:.2f}s"


def test_an_event_frame_shows_few_readable_columns_and_keeps_them_all() -> None:
    df = routing_workflow().run_sync(3).events.to_dataframe()
    assert tuple(df.columns) == COLUMNS  # the data keeps everything
    html = df._repr_html_()
    text = repr(df)
    for gone in ("run_id", "checkpoint_id", "payload_type", "NaN", "None", "+00:00"):
        assert gone not in html and gone not in text, gone
    assert "start → pos" in html  # the route of a message, not a cut-off edge id
    assert f"{len(COLUMNS)} columns, 7 shown" in html
    # a selection of columns displays as usual
    assert "payload_type" in repr(df[["seq", "payload_type"]])
    assert type(df[df["type"] == "Output"]).__name__ == "EventFrame"


def test_durations_are_rounded() -> None:
    result = chain(3).run_sync(0)
    for frame in (durations_summary(result), executor_timeline(result), superstep_summary(result)):
        for col in [c for c in frame.columns if c.endswith("_ms")]:
            values = frame[col].dropna()
            assert (values == values.round(2)).all(), col


def test_df_plot_works_with_the_notebook_extra() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.figure()  # pandas draws on the current figure: start from a new one
    ax = durations_summary(chain(3).run_sync(0))["total_ms"].plot.bar()
    assert len(ax.patches) == 3
