"""GraphView: the interactive graph of a workflow or a run (an ``anywidget`` drawing SVG).

Python lays the graph out once with graphviz (``agentic_nb.notebook._layout``) and sends
the positions; the browser draws SVG from them with ``graphview.js``, shipped inside the
package (no CDN, works offline). Per update only a short string of executor states (one
letter per node), the indices of the edges taken and the superstep number travel.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from agentic_nb._optional import MissingDependencyError
from agentic_nb.notebook._dot import highlighted_edges
from agentic_nb.notebook._layout import collapse, workflow_layout
from agentic_nb.notebook._model import GraphModel, model_from_workflow
from agentic_nb.notebook._tracker import STATE_COLORS, TERMINAL, RunTracker
from agentic_nb.workflow._events import (
    ExecutorCompleted,
    ExecutorFailed,
    ExecutorInvoked,
    MessageSent,
    Output,
)

from ._common import Throttle, short, spawn

try:
    import anywidget
    import traitlets
except ImportError:  # pragma: no cover - depends on the installed extras
    raise MissingDependencyError(
        "GraphView needs anywidget: pip install 'agentic-nb[notebook]'"
    ) from None

_HERE = Path(__file__).resolve().parent
LETTERS = {"pending": "p", "running": "r", "done": "d", "failed": "f", "waiting": "w"}
LETTERS["skipped"] = "s"
_STATE_OF = {v: k for k, v in LETTERS.items()}


def tracker_for(run: Any) -> RunTracker:
    """A tracker that knows every executor drawn (sub-workflow children included)."""
    return RunTracker(run, model_from_workflow(run.workflow).executor_ids())


class _RunUpTo:
    """A read-only view of a run's events up to superstep ``k`` (for the scrubber)."""

    def __init__(self, run: Any, k: int, ended: bool) -> None:
        self.workflow = run.workflow
        self.events = [e for e in run.events if e.superstep <= k]
        self.status = run.status if ended else "running"


def _is_run(obj: Any) -> bool:
    return hasattr(obj, "run_id") and hasattr(obj, "events") and hasattr(obj, "workflow")


class GraphView(anywidget.AnyWidget):  # type: ignore[misc,unused-ignore]
    """The graph of a workflow or of a run you can zoom, pan, click and scrub through.

    ``GraphView(workflow)`` draws the graph; ``GraphView(run)`` (a local ``Run`` or a
    ``RemoteRun`` watched over NATS) colours executors by state as the run goes, highlights
    the edges taken in the last superstep and keeps the running executors in sight. The
    direction (top→bottom or left→right) follows the graph's shape; sub-workflows are
    clusters that collapse to one node. In the browser: the zoom buttons or ctrl+wheel zoom, drag or
    wheel to pan, *Fit width*, hover for a tooltip, click a node for its panel (last inputs
    and outputs, state, errors, attempts) and move the **superstep** slider to see the
    graph, the queued messages and the shared state at any past superstep (*Live* returns).

    From Python: ``selected`` (an executor id or ``None``) opens a node's panel, ``step``
    (``-1`` = live) moves the scrubber, ``detail`` and ``snapshot`` hold what they show.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def a(x: int, ctx: WorkflowContext[int]) -> None:
        ...     ctx.send_message(x + 1)
        >>> @executor
        ... def b(x: int, ctx: WorkflowContext[None, int]) -> None:
        ...     ctx.yield_output(x)
        >>> wf = WorkflowBuilder(start=a).add_edge(a, b).build()
        >>> run = wf.start(1)
        >>> import asyncio
        >>> _ = asyncio.run(run.until_idle())
        >>> view = GraphView(run)
        >>> view.states_by_id()
        {'a': 'done', 'b': 'done'}
        >>> view.selected = "b"
        >>> view.detail["inputs"]
        [['a', '2']]
        >>> view.step = 0                      # the scrubber, back to superstep 0
        >>> view.states_by_id()
        {'a': 'done', 'b': 'pending'}
    """

    _esm = _HERE / "graphview.js"
    _css = _HERE / "graphview.css"

    graph = traitlets.Dict().tag(sync=True)
    states = traitlets.Unicode("").tag(sync=True)
    hot = traitlets.List(traitlets.Int()).tag(sync=True)
    last_step = traitlets.Int(0).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    step = traitlets.Int(-1).tag(sync=True)
    selected = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    detail = traitlets.Dict().tag(sync=True)
    snapshot = traitlets.Dict().tag(sync=True)
    collapsed = traitlets.List(traitlets.Unicode()).tag(sync=True)
    max_height = traitlets.Int(560).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        run_or_workflow: Any,
        *,
        tracker: RunTracker | None = None,
        interval: float = 0.1,
        follow: bool = True,
        max_height: int = 560,
    ) -> None:
        super().__init__(max_height=max_height)
        self.add_class("agentic-graph-view")
        if _is_run(run_or_workflow):
            self.run: Any = run_or_workflow
            self.workflow: Any = run_or_workflow.workflow
        elif hasattr(run_or_workflow, "executors") and hasattr(run_or_workflow, "edges"):
            self.run = None
            self.workflow = run_or_workflow
        else:
            raise TypeError(
                f"GraphView takes a Workflow, a Run or a RemoteRun, not "
                f"{type(run_or_workflow).__name__}: build the workflow first "
                f"(WorkflowBuilder(...).build())"
            )
        self.tracker = tracker
        if self.run is not None and self.tracker is None:
            self.tracker = tracker_for(self.run)
        self.updates = 0
        self._model: GraphModel | None = None
        self._layout_ids: list[str] = []
        self._state_history: dict[int, dict[str, Any]] = {}
        self._checkpoint_task: Any = None
        self._unsubscribe: Any = None
        self._lay_out()
        self.observe(self._on_selected, names=["selected"])
        self.observe(self._on_step, names=["step"])
        self.observe(self._on_collapsed, names=["collapsed"])
        self._throttle = Throttle(self.refresh, interval)
        if self.run is not None and follow:
            self._unsubscribe = self.run.subscribe(lambda _ev: self._throttle.poke())
        self.refresh()

    # ------------------------------------------------------------------ layout
    def _lay_out(self) -> None:
        wf = self.workflow
        collapsed = frozenset(self.collapsed)
        try:
            lay = dict(workflow_layout(wf, collapsed=collapsed))
        except ImportError as exc:  # the graphviz dot program is missing
            self.error = str(exc)
            self.graph = {}
            return
        lay["colors"] = {LETTERS[s]: c for s, c in STATE_COLORS.items()}
        self._model = collapse(model_from_workflow(wf), collapsed)
        self._layout_ids = [n["id"] for n in lay["nodes"]]
        self._executor_pos = {
            n["id"]: i for i, n in enumerate(lay["nodes"]) if n.get("exec")
        }  # fmt: skip
        self.graph = lay

    def _on_collapsed(self, _change: Any) -> None:
        self._lay_out()
        self._throttle.flush()

    # ------------------------------------------------------------------ updates
    def refresh(self) -> None:
        """Fold new events and send what changed (called at most every ``interval`` s)."""
        run = self.run
        if run is None:
            self.states = "".join("p" if i in self._executor_pos.values() else "-"
                                  for i in range(len(self._layout_ids)))  # fmt: skip
            return
        if run.workflow is not self.workflow:  # a RemoteRun learnt its graph
            self.workflow = run.workflow
            self.tracker = tracker_for(run)
            self._lay_out()
        if not getattr(run, "loaded", True):
            return
        assert self.tracker is not None
        self.tracker.update()
        self.updates += 1
        # run.superstep counts the supersteps done: the state now is the state after
        # superstep run.superstep - 1 (what the scrubber shows at that step).
        done = run.superstep - 1
        if done >= 0 and done not in self._state_history and hasattr(run, "state"):
            try:
                self._state_history[done] = dict(run.state)
            except Exception:  # a remote run may not know its state
                pass
        with self.hold_sync():
            self.last_step = max(run.superstep, 0)
            self.status = run.status
            if self.step < 0:
                self._show(self.tracker)
                if self.selected:
                    self.detail = self._detail(self.selected, None)
        if run.status in TERMINAL and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _show(self, tracker: RunTracker) -> None:
        states = tracker.states()
        pos = self._executor_pos
        letters = ["-"] * len(self._layout_ids)
        for xid, i in pos.items():
            letters[i] = LETTERS.get(states.get(xid, "pending"), "p")
        text = "".join(letters)
        if text != self.states:
            self.states = text
        hot = sorted(highlighted_edges(self._model, tracker.last_edges)) if self._model else []
        if hot != self.hot:
            self.hot = hot

    def states_by_id(self) -> dict[str, str]:
        """Executor id -> the state drawn now (at the scrubber's superstep)."""
        return {xid: _STATE_OF.get(self.states[i], "pending") if i < len(self.states) else
                "pending" for xid, i in self._executor_pos.items()}  # fmt: skip

    # ------------------------------------------------------------------ scrubber
    def _on_step(self, change: Any) -> None:
        k = change["new"]
        run = self.run
        if run is None:
            return
        if k < 0 or (k >= run.superstep and run.status not in TERMINAL):
            self.step = -1 if k >= run.superstep else k
            assert self.tracker is not None
            self._show(self.tracker)
            self.snapshot = self._snapshot(None)
        else:
            ended = run.status in TERMINAL and k >= run.superstep
            past = RunTracker(_RunUpTo(run, k, ended), list(self._executor_pos))
            past.update()
            self._show(past)
            self.snapshot = self._snapshot(k)
        if self.selected:
            self.detail = self._detail(self.selected, None if self.step < 0 else self.step)

    def _snapshot(self, k: int | None) -> dict[str, Any]:
        run = self.run
        if k is None:
            return {}
        queued = [
            [ev.target_id, ev.source_id, ev.edge, short(ev.payload, 160)]
            for ev in run.events
            if type(ev) is MessageSent and ev.superstep == k
        ]
        snap: dict[str, Any] = {
            "title": f"after superstep {k}: messages queued for superstep {k + 1}",
            "queued": queued,
        }
        state = self._state_history.get(k)
        if state is not None:
            snap["state"] = [[key, short(v, 160)] for key, v in sorted(state.items())]
        elif getattr(run, "storage", None) is not None:
            snap["state_note"] = "reading the checkpoint…"
            self._checkpoint_task = spawn(self._state_from_checkpoint(k))
            if self._checkpoint_task is None:
                snap["state_note"] = "no event loop to read the checkpoint"
        else:
            snap["state_note"] = (
                "not recorded at this superstep (give the workflow a checkpoint_storage "
                "to see the shared state of every superstep)"
            )
        return snap

    async def _state_from_checkpoint(self, k: int) -> None:
        from agentic_nb.workflow.codec import decode

        run = self.run
        try:
            infos = await run.history()
            match = [i for i in infos if i.superstep == k + 1]  # saved after superstep k
            cp = await run.storage.get(match[-1].checkpoint_id) if match else None
        except Exception as exc:
            note = f"could not read the checkpoint: {type(exc).__name__}: {exc}"
            cp = None
        else:
            note = f"no checkpoint of superstep {k}"
        if self.step != k:
            return
        snap = dict(self.snapshot)
        snap.pop("state_note", None)
        if cp is None:
            snap["state_note"] = note
        else:
            state = decode(cp.state)
            self._state_history[k] = state
            snap["state"] = [[key, short(v, 160)] for key, v in sorted(state.items())]
        self.snapshot = snap

    # ------------------------------------------------------------------ node panel
    def _on_selected(self, change: Any) -> None:
        xid = change["new"]
        if xid is not None and xid not in self._executor_pos:
            known = ", ".join(list(self._executor_pos)[:10])
            self.selected = change["old"] if change["old"] in self._executor_pos else None
            raise ValueError(f"no executor {xid!r} in this graph; executors: {known}…")
        self.detail = {} if xid is None else self._detail(xid, None if self.step < 0 else self.step)

    def _detail(self, xid: str, k: int | None) -> dict[str, Any]:
        node = next((n for n in self._model.nodes if n.id == xid), None) if self._model else None
        out: dict[str, Any] = {"id": xid, "kind": node.kind if node else "", "state": "pending"}
        if node is not None and node.executor_class:
            out["cls"] = node.executor_class
        i = self._executor_pos.get(xid)
        if i is not None and i < len(self.states):
            out["state"] = _STATE_OF.get(self.states[i], "pending")
        run = self.run
        events = [] if run is None else list(run.events)
        if k is not None:
            events = [e for e in events if e.superstep <= k]
        invocations = 0
        attempts = 0
        last_step = None
        last_type = ""
        duration = None
        errors: list[list[Any]] = []
        for ev in events:
            t = type(ev)
            if ev.executor_id != xid:
                continue
            if t is ExecutorInvoked:
                invocations += 1
                attempts = max(attempts, ev.attempt)
                last_step = ev.superstep
                last_type = ev.message_type
            elif t is ExecutorCompleted:
                duration = ev.duration_ms
            elif t is ExecutorFailed:
                retry = " (retried)" if ev.will_retry else ""
                msg = f"{ev.error_type}: {short(ev.error_message, 300)}{retry}"
                errors.append([ev.attempt, msg])
                duration = ev.duration_ms
        prefix = xid.rsplit("/", 1)[0] + "/" if "/" in xid else ""
        inputs: list[list[Any]] = []
        outputs: list[list[Any]] = []
        if last_step is not None:
            for ev in events:
                if type(ev) is MessageSent:
                    target = (
                        prefix + ev.target_id
                        if ev.executor_id and "/" in ev.executor_id
                        else ev.target_id
                    )
                    if ev.superstep == last_step - 1 and target == xid:
                        inputs.append([ev.source_id or "(input)", short(ev.payload, 300)])
                    elif ev.superstep == last_step and ev.executor_id == xid:
                        outputs.append([ev.target_id, short(ev.payload, 300)])
                elif type(ev) is Output and ev.superstep == last_step and ev.executor_id == xid:
                    outputs.append(["(workflow output)", short(ev.data, 300)])
            if last_step == 0 and not inputs:
                inputs.append(["(the run's input)", f"a {last_type or 'message'}"])
        out.update(
            invocations=invocations,
            attempts=attempts,
            inputs=inputs[-20:],
            outputs=outputs[-20:],
            errors=errors[-10:],
            duration=None if duration is None else f"{duration:.1f} ms",
        )
        if last_step is not None:
            out["step_note"] = f"last inputs (delivered in superstep {last_step})"
        return out

    # ------------------------------------------------------------------ misc
    async def wait(self) -> None:
        """Wait for the pending throttled update (scripts and tests)."""
        await self._throttle.idle()
        self._throttle.flush()

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        super().close()

    def _repr_html_fallback(self) -> str:
        return f"<pre>{escape(repr(self.workflow))}</pre>"
