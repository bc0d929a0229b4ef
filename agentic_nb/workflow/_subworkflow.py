"""WorkflowExecutor: a whole workflow running as one node of a parent workflow."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ._context import PendingRequest, WorkflowContext
from ._errors import WorkflowError
from ._events import RequestAnswered, RequestInfo, WorkflowEvent, WorkflowWaiting
from ._executor import Executor, ExecutorKind, HandlerSpec
from .codec import register_checkpoint_type

if TYPE_CHECKING:
    from ._runner import Run
    from ._workflow import Workflow

# Child events the parent run emits itself, under the same request ids.
_PARENT_SAYS = (RequestInfo, RequestAnswered, WorkflowWaiting)


class SubWorkflowError(WorkflowError):
    """The child workflow of a :class:`WorkflowExecutor` failed."""


@register_checkpoint_type
@dataclasses.dataclass
class SubWorkflowResult:
    """A summary of one child run, sent on by a :class:`WorkflowExecutor` with
    ``summary=True`` (and for a failed child with ``on_child_failure="continue"``).

    Example::

        >>> SubWorkflowResult("child", "failed", error="boom").success
        False
    """

    workflow: str
    status: str
    outputs: list[Any] = dataclasses.field(default_factory=list)
    error: str | None = None
    supersteps: int = 0
    run_id: str = ""

    @property
    def success(self) -> bool:
        return self.status == "completed"


class WorkflowExecutor(Executor):
    """Run ``workflow`` inside one superstep of the parent; its outputs are sent on.

    Accepts whatever the child's start executor accepts. Child events are re-emitted
    on the parent run with ``executor_id`` prefixed by this executor's id
    (``"outer/inner"``), so nesting is visible at any depth. A child that asks for
    input (``request_info``) surfaces the request on the parent run under the child's
    request id, announced once; ``parent.respond(request_id, value)`` answers it. The
    child run waits meanwhile (in the parent's checkpoint storage too, when it has
    one), so its finished tasks never run again, after an answer or a resume.

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

    def __init__(
        self,
        workflow: Workflow,
        id: str | None = None,
        *,
        on_child_failure: str = "fail",
        summary: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(id if id is not None else workflow.name, **kwargs)
        if on_child_failure not in ("fail", "continue"):
            raise ValueError(
                f"WorkflowExecutor {self.id!r}: on_child_failure must be 'fail' or 'continue', "
                f"got {on_child_failure!r}"
            )
        self.workflow = workflow
        self.on_child_failure = on_child_failure
        self.summary = summary
        # What this executor sends on: the child's outputs, or one summary of the run.
        outputs = tuple(dict.fromkeys(t for e in workflow.executors for t in e.output_types))
        if summary:
            sent: tuple[Any, ...] = (SubWorkflowResult,)
        elif on_child_failure == "continue":
            sent = (*outputs, SubWorkflowResult)
        else:
            sent = outputs
        start = workflow.executor(workflow.start_executor_id)
        self._handlers = tuple(
            dataclasses.replace(
                h,
                name="run_child",
                func=self._run_child,
                is_async=True,
                takes_ctx=True,
                bound=False,
                message_types=sent,
            )
            for h in start.handlers
        )

    @property
    def handlers(self) -> tuple[HandlerSpec, ...]:
        return self._handlers

    async def _run_child(self, message: Any, ctx: WorkflowContext[Any, Any]) -> None:
        parent = ctx._run
        slot = ctx._slot
        # One child run per delivery and attempt; kept while it waits for answers, and
        # stored in the parent's checkpoint storage, so that neither an answer nor a
        # resume re-runs the child tasks that finished.
        child_id = (
            f"{parent.run_id}.{self.id}.s{parent.superstep}"
            f".p{slot.next if slot is not None else 0}.a{ctx.attempt}"
        )
        child = parent._subruns.get(child_id)
        if child is None:
            child = await self._open_child(message, ctx, child_id)
            parent._subruns[child_id] = child
        try:
            result = await child.until_idle()
            while result.status == "waiting":
                # The child's requests are asked on the parent under the child's ids:
                # the ids the parent announces are the ids parent.respond accepts.
                for req in child.pending_requests:
                    answer = await ctx._ask(
                        req.request_id,
                        req.request,
                        req.response_type,
                        f"{self.id}/{req.executor_id}",
                    )
                    child.answer(req.request_id, answer)
                result = await child.until_idle()
        except PendingRequest:
            raise  # the child waits, in memory and in storage, for the parent's answer
        except BaseException:
            parent._subruns.pop(child_id, None)
            raise
        parent._subruns.pop(child_id, None)
        report = SubWorkflowResult(
            self.workflow.name,
            result.status,
            list(result.outputs),
            result.error,
            result.supersteps,
            child.run_id,
        )
        if result.status != "completed":
            if self.on_child_failure == "fail":
                raise SubWorkflowError(
                    f"child workflow {self.workflow.name!r} of executor {self.id!r} ended "
                    f"{result.status}: {result.error}"
                )
            await ctx.log(
                "warning",
                f"child workflow {self.workflow.name!r} ended {result.status} ({result.error}); "
                f"going on (on_child_failure='continue')",
            )
            await ctx.send_message(report)
            return
        if self.summary:
            await ctx.send_message(report)
            return
        for out in result.outputs:
            await ctx.send_message(out)

    async def _open_child(self, message: Any, ctx: WorkflowContext[Any, Any], child_id: str) -> Run:
        parent = ctx._run
        prefix = self.id

        def bubble(ev: WorkflowEvent) -> None:
            if isinstance(ev, _PARENT_SAYS):
                return  # the parent announces (and answers) the child's requests itself
            copy = dataclasses.replace(ev)
            path = f"{prefix}/{ev.executor_id}" if ev.executor_id else prefix
            parent._emit(copy, path)

        store = parent.storage
        if store is not None and await store.latest(child_id) is not None:
            child = self.workflow.resume(child_id, storage=store)
            child._listeners.append(bubble)
            await child.load()
            return child
        child = self.workflow.start(message, run_id=child_id, checkpoint_storage=store)
        child._listeners.append(bubble)
        for ev in child.events:
            bubble(ev)
        return child
