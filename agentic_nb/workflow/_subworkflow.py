"""WorkflowExecutor: a whole workflow running as one node of a parent workflow."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ._context import WorkflowContext
from ._errors import WorkflowError
from ._events import WorkflowEvent
from ._executor import Executor, ExecutorKind, HandlerSpec

if TYPE_CHECKING:
    from ._workflow import Workflow


class SubWorkflowError(WorkflowError):
    """The child workflow of a :class:`WorkflowExecutor` failed."""


class WorkflowExecutor(Executor):
    """Run ``workflow`` inside one superstep of the parent; its outputs are sent on.

    Accepts whatever the child's start executor accepts. Child events are re-emitted
    on the parent run with ``executor_id`` prefixed by this executor's id
    (``"outer/inner"``), so nesting is visible at any depth. A child that asks for
    input (``request_info``) surfaces the request on the parent run.

    Example::

        >>> from agentic_nb import WorkflowBuilder, WorkflowContext, executor
        >>> from agentic_nb.workflow import WorkflowExecutor
        >>> @executor
        ... def inc(n: int, ctx: WorkflowContext[None, int]) -> None:
        ...     ctx.yield_output(n + 1)
        >>> child = WorkflowBuilder(name="child", start=inc).build()
        >>> @executor
        ... def show(n: int, ctx: WorkflowContext[None, str]) -> None:
        ...     ctx.yield_output(f"child said {n}")
        >>> sub = WorkflowExecutor(child, id="sub")
        >>> parent = WorkflowBuilder(start=sub).add_edge(sub, show).build()
        >>> parent.run_sync(1).outputs
        ['child said 2']
    """

    kind = ExecutorKind.ORCHESTRATOR

    def __init__(self, workflow: Workflow, id: str | None = None, **kwargs: Any) -> None:
        super().__init__(id if id is not None else workflow.name, **kwargs)
        self.workflow = workflow
        start = workflow.executor(workflow.start_executor_id)
        self._handlers = tuple(
            dataclasses.replace(
                h,
                name="run_child",
                func=self._run_child,
                is_async=True,
                takes_ctx=True,
                bound=False,
                message_types=tuple(
                    dict.fromkeys(t for e in workflow.executors for t in e.output_types)
                ),
            )
            for h in start.handlers
        )

    @property
    def handlers(self) -> tuple[HandlerSpec, ...]:
        return self._handlers

    async def _run_child(self, message: Any, ctx: WorkflowContext[Any, Any]) -> None:
        parent = ctx._run
        prefix = self.id

        def bubble(ev: WorkflowEvent) -> None:
            copy = dataclasses.replace(ev)
            path = f"{prefix}/{ev.executor_id}" if ev.executor_id else prefix
            parent._emit(copy, path)

        child = self.workflow.start(message, run_id=f"{parent.run_id}.{self.id}")
        # Replay answers recorded on the parent into requests the child makes again.
        child._listeners.append(bubble)
        for ev in child.events:
            bubble(ev)
        result = await child.until_idle()
        while result.status == "waiting":
            for req in child.pending_requests:
                answer = await ctx.request_info(req.request, response_type=req.response_type)
                child.answer(req.request_id, answer)
            result = await child.until_idle()
        if result.status != "completed":
            raise SubWorkflowError(
                f"child workflow {self.workflow.name!r} of executor {self.id!r} ended "
                f"{result.status}: {result.error}"
            )
        for out in result.outputs:
            await ctx.send_message(out)
