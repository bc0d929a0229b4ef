"""Shared machinery of the widgets: background driving, throttled redraws, small HTML bits.

Nothing here ever blocks the kernel: work is scheduled on the running event loop
with ``asyncio.ensure_future`` and widget callbacks return at once.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Coroutine
from html import escape
from typing import Any

from agentic_nb._optional import require

_drivers: weakref.WeakKeyDictionary[Any, asyncio.Task[Any]] = weakref.WeakKeyDictionary()
_paused: weakref.WeakSet[Any] = weakref.WeakSet()
_stepping: weakref.WeakSet[Any] = weakref.WeakSet()


def ipywidgets() -> Any:
    """The ipywidgets module, or a one-line error naming the ``notebook`` extra."""
    return require("ipywidgets", "notebook")


def running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
    """Schedule ``coro`` on the running loop (``None``, coroutine closed, if there is none)."""
    if running_loop() is None:
        coro.close()
        return None
    return asyncio.ensure_future(coro)


def driver_of(run: Any) -> asyncio.Task[Any] | None:
    """The background task currently driving ``run`` (``None`` when nothing drives it)."""
    task = _drivers.get(run)
    return task if task is not None and not task.done() else None


async def _drive(run: Any) -> Any:
    # Like run.until_idle(), but yields to the loop between supersteps so the
    # widgets (and the rest of the kernel) get a turn even when handlers never await.
    await run.load()
    while run.can_progress() and run not in _paused:
        await run.step()
        await asyncio.sleep(0)
    return run.result()


def step_through(run: Any) -> None:
    """Mark ``run`` as under step control (a Stepper's Step, or a Pause): answering one of
    its requests then records the answer without running on."""
    _stepping.add(run)


def is_stepping(run: Any) -> bool:
    """True while ``run`` is stepped by hand (until something drives it to the end again)."""
    return run in _stepping


def drive(run: Any) -> asyncio.Task[Any] | None:
    """Drive ``run`` until idle in a background task (at most one per run).

    Returns the driving task, or ``None`` when there is nothing to run or no
    running event loop (then ``await run.until_idle()`` yourself).

    Example::

        >>> import asyncio
        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(x)
        >>> async def cell():
        ...     run = WorkflowBuilder(start=echo).build().start("hi")
        ...     task = drive(run)       # returns at once
        ...     return (await task).outputs
        >>> asyncio.run(cell())
        ['hi']
    """
    _paused.discard(run)
    _stepping.discard(run)
    task = driver_of(run)
    if task is not None:
        return task
    if run.loaded and not run.can_progress():
        return None
    if running_loop() is None:
        return None
    task = asyncio.ensure_future(_drive(run))
    _drivers[run] = task
    return task


def pause(run: Any) -> None:
    """Ask the background driver to stop after the current superstep.

    Example::

        >>> import asyncio
        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def a(x: int, ctx: WorkflowContext[int]) -> None:
        ...     ctx.send_message(x)
        >>> @executor
        ... def b(x: int, ctx: WorkflowContext[None, int]) -> None:
        ...     ctx.yield_output(x)
        >>> async def cell():
        ...     run = WorkflowBuilder(start=a).add_edge(a, b).build().start(1)
        ...     task = drive(run)
        ...     pause(run)              # before its first superstep: nothing runs
        ...     await task
        ...     before = (run.superstep, run.status)
        ...     await drive(run)        # driving again resumes
        ...     return before, (run.superstep, run.status)
        >>> asyncio.run(cell())
        ((0, 'created'), (2, 'completed'))
    """
    if driver_of(run) is not None:
        _paused.add(run)
        _stepping.add(run)


class Throttle:
    """Call ``redraw`` at most once per ``interval`` seconds, however often it is poked.

    ``poke()`` is O(1) and safe to call from an event listener; the redraw runs in
    a task on the running loop. Without a running loop ``poke()`` redraws at once.

    Example::

        >>> calls = []
        >>> t = Throttle(lambda: calls.append(1))
        >>> t.poke(); len(calls)    # no running loop: immediate
        1
    """

    def __init__(self, redraw: Callable[[], None], interval: float = 0.1) -> None:
        self._redraw = redraw
        self.interval = interval
        self.redraws = 0
        self._dirty = False
        self._last = 0.0
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        self._dirty = True
        if self._task is not None:
            return
        loop = running_loop()
        if loop is None:
            self.flush()
            return
        self._task = loop.create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._dirty:
                wait = self._last + self.interval - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.flush()
        finally:
            self._task = None

    def flush(self) -> None:
        """Redraw now."""
        self._dirty = False
        self._last = time.monotonic()
        self.redraws += 1
        self._redraw()

    async def idle(self) -> None:
        """Wait until no redraw is scheduled (for tests and scripts)."""
        while self._task is not None:
            await asyncio.sleep(self.interval / 2)


def short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def html_table(header: list[str], rows: list[list[Any]], *, empty: str = "nothing") -> str:
    """A small HTML table with escaped cells."""
    if not rows:
        return f'<div style="color:#777;font-style:italic">{escape(empty)}</div>'
    head = "".join(f'<th style="text-align:left;padding:2px 8px">{escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="padding:2px 8px;font-family:monospace">{escape(short(c))}</td>' for c in r
        )
        + "</tr>"
        for r in rows
    )
    return f'<table style="border-collapse:collapse"><tr>{head}</tr>{body}</table>'


STATUS_COLORS = {
    "created": "#777777",
    "running": "#b45f06",
    "waiting": "#1155cc",
    "completed": "#38761d",
    "failed": "#cc0000",
    "cancelled": "#777777",
}


def status_badge(status: str) -> str:
    color = STATUS_COLORS.get(status, "#333333")
    return (
        f'<span class="agentic-status" data-status="{escape(status)}" '
        f'style="color:white;background:{color};padding:1px 6px;border-radius:3px">'
        f"{escape(status)}</span>"
    )
