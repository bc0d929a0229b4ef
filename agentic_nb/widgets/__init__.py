"""Jupyter widgets for runs: live view, step-through, approvals and checkpoint browser.

Every widget returns at once; runs go on in background asyncio tasks and button
callbacks only schedule work, so the kernel is never blocked (awaiting a
future that a widget resolves would deadlock Jupyter: nothing here does).

Example (in a notebook)::

    >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
    >>> @executor
    ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
    ...     ctx.yield_output(x)
    >>> wf = WorkflowBuilder(start=echo).build()
    >>> import asyncio
    >>> async def cell():
    ...     live = wf.run_live("hi")   # what a notebook cell shows; returns at once
    ...     return await live.wait()   # only if a later cell needs the result
    >>> asyncio.run(cell()).outputs
    ['hi']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._approvals import ApprovalPanel, RequestCard
from ._checkpoints import CheckpointBrowser, state_diff
from ._common import drive, pause
from ._forms import decision_value
from ._live import LiveRunWidget, live_run
from ._stepper import Stepper

if TYPE_CHECKING:
    from ._graphview import GraphView


def __getattr__(name: str) -> Any:
    # GraphView needs anywidget (the notebook extra): imported on first use only.
    if name == "GraphView":
        from ._graphview import GraphView

        return GraphView
    raise AttributeError(f"module 'agentic_nb.widgets' has no attribute {name!r}")


def stepper(run: Any) -> Stepper:
    """Step / Run to end / Pause / Resume controls for ``run`` (see :class:`Stepper`).

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(x)
        >>> s = stepper(WorkflowBuilder(start=echo).build().start("hi"))
        >>> [b.description for b in s.widget.children[1].children]
        ['Step', 'Run to end', 'Pause', 'Resume']
    """
    return Stepper(run)


def approvals(run: Any) -> ApprovalPanel:
    """Approval cards for the pending requests of ``run`` (see :class:`ApprovalPanel`).

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> @executor
        ... async def ask(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ok = await ctx.request_info(f"publish {x}?", response_type=bool)
        ...     await ctx.yield_output("published" if ok else "dropped")
        >>> import asyncio
        >>> run = WorkflowBuilder(start=ask).build().start("post")
        >>> _ = asyncio.run(run.until_idle())
        >>> panel = approvals(run)
        >>> [card.approve.description for card in panel.cards.values()]
        ['Approve']
    """
    return ApprovalPanel(run)


def checkpoints_view(run: Any) -> CheckpointBrowser:
    """Checkpoint browser of ``run`` with state diffs, Resume and Fork (see
    :class:`CheckpointBrowser`).

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> from agentic_nb.workflow import InMemoryCheckpointStorage
        >>> @executor
        ... def echo(x: str, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(x)
        >>> wf = WorkflowBuilder(start=echo, checkpoint_storage=InMemoryCheckpointStorage()).build()
        >>> view = checkpoints_view(wf.start("hi"))
        >>> view.fork_button.disabled  # until a checkpoint is selected
        True
    """
    return CheckpointBrowser(run)


__all__ = [
    "ApprovalPanel",
    "CheckpointBrowser",
    "GraphView",
    "LiveRunWidget",
    "RequestCard",
    "Stepper",
    "approvals",
    "checkpoints_view",
    "decision_value",
    "drive",
    "live_run",
    "pause",
    "state_diff",
    "stepper",
]
