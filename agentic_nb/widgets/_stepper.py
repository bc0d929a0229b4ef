"""Step-through controls: one superstep per click, with what the next one will deliver."""

from __future__ import annotations

from typing import Any

from agentic_nb.notebook._tracker import TERMINAL

from ._common import (
    Throttle,
    drive,
    driver_of,
    html_table,
    ipywidgets,
    pause,
    spawn,
    step_through,
)
from ._live import status_line


class Stepper:
    """Step / Run to end / Pause / Resume over ``run.step()``.

    Shows the graph (redrawn after each step), the messages the next superstep
    will deliver (``run.queued_messages()``), the shared state and the outputs so
    far. Each Step runs exactly one superstep in a background task; nothing
    blocks the kernel. ``last_task`` is the task the last click started.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(x)
        >>> run = WorkflowBuilder(start=echo).build().start("hi")
        >>> import asyncio
        >>> async def cell():
        ...     s = Stepper(run)
        ...     s.step_button.click()
        ...     await s.last_task
        ...     return run.superstep, run.outputs
        >>> asyncio.run(cell())
        (1, ['hi'])
    """

    def __init__(self, run: Any) -> None:
        from ._graphview import GraphView, tracker_for

        w = ipywidgets()
        self.run = run
        self.tracker = tracker_for(run)
        self.last_task: Any = None
        self.last_report: Any = None
        self.error = ""
        self.status = w.HTML()
        self.step_button = w.Button(description="Step", icon="step-forward", button_style="primary")
        self.run_button = w.Button(description="Run to end", icon="fast-forward")
        self.pause_button = w.Button(description="Pause", icon="pause")
        self.resume_button = w.Button(description="Resume", icon="play")
        self.step_button.on_click(lambda _b: self.step())
        self.run_button.on_click(lambda _b: self.run_to_end())
        self.pause_button.on_click(lambda _b: self.pause())
        self.resume_button.on_click(lambda _b: self.run_to_end())
        self.graph = GraphView(run, tracker=self.tracker, follow=False)
        self.queued = w.HTML()
        self.state = w.HTML()
        self.outputs = w.HTML()
        self.message = w.HTML()
        self._paused = False
        self._stepping = False
        w_ = w
        self.widget = w.VBox(
            [
                self.status,
                w.HBox([self.step_button, self.run_button, self.pause_button, self.resume_button]),
                self.message,
                self.graph,
                w_.HTML("<b>Next superstep delivers</b>"),
                self.queued,
                w_.HTML("<b>Shared state</b>"),
                self.state,
                w_.HTML("<b>Outputs so far</b>"),
                self.outputs,
            ]
        )
        self.widget.add_class("agentic-stepper")
        self._throttle = Throttle(self.redraw)
        self._unsubscribe = run.subscribe(lambda _ev: self._throttle.poke())
        if not run.loaded:
            self.last_task = spawn(self._load())
        self._throttle.flush()

    async def _load(self) -> None:
        await self.run.load()
        self._throttle.flush()

    # ------------------------------------------------------------- actions
    def step(self) -> Any:
        """Run exactly one superstep in the background (returns the task)."""
        if self._stepping or driver_of(self.run) is not None:
            return None
        self._stepping = True
        step_through(self.run)
        self._buttons()
        self.last_task = spawn(self._step())
        if self.last_task is None:
            self._stepping = False
            self.message.value = "no running event loop: use  await run.step()"
            self._buttons()
        return self.last_task

    async def _step(self) -> None:
        try:
            self.last_report = await self.run.step()
            self.error = ""
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._stepping = False
            self._throttle.flush()

    def run_to_end(self) -> Any:
        """Run superstep after superstep in the background until idle or paused."""
        self._paused = False
        task = drive(self.run)
        self.last_task = task
        if task is not None:
            task.add_done_callback(lambda _t: self._throttle.flush())
        self._throttle.flush()
        return task

    def pause(self) -> None:
        """Stop a Run-to-end after the superstep in progress."""
        if driver_of(self.run) is not None:
            pause(self.run)
            self._paused = True
        self._throttle.flush()

    # -------------------------------------------------------------- display
    def _buttons(self) -> None:
        run = self.run
        driving = driver_of(run) is not None
        busy = driving or self._stepping
        can = (not run.loaded) or run.can_progress()
        self.step_button.disabled = busy or not can
        self.run_button.disabled = busy or not can
        self.pause_button.disabled = not driving
        self.resume_button.disabled = busy or not can or not self._paused

    def redraw(self) -> None:
        run = self.run
        self._buttons()
        self.status.value = status_line(run)
        if not run.loaded:
            return
        self.tracker.update()
        self.graph.refresh()
        msg = ""
        if self.error:
            msg = f'<span style="color:#cc0000">step failed: {self.error}</span>'
        elif run.status == "waiting":
            msg = (
                '<span style="color:#1155cc">waiting for input: answer with '
                "<code>run.approvals()</code> or <code>await run.respond(...)</code></span>"
            )
        elif run.status in TERMINAL:
            msg = f"run {run.status}; nothing left to step"
        self.message.value = msg
        queued = [
            [q.target_id, q.source_id or "(input)", q.edge or "", q.payload]
            for q in run.queued_messages()
        ]
        buffers = run.fan_in_buffers()
        for eid, per_source in buffers.items():
            for src, items in per_source.items():
                for item in items:
                    queued.append([f"fan-in {eid}", src, "(buffered)", item])
        self.queued.value = html_table(
            ["target", "source", "edge", "payload"], queued, empty="nothing queued"
        )
        self.state.value = html_table(
            ["key", "value"], [[k, v] for k, v in run.state.items()], empty="empty"
        )
        self.outputs.value = html_table(
            ["#", "value"], [[i, o] for i, o in enumerate(run.outputs)], empty="no outputs yet"
        )

    def close(self) -> None:
        self._unsubscribe()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
