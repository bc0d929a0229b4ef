"""agentic_nb — build, watch and steer multi-agent graph workflows from a notebook.

Example::

    >>> from agentic_nb import Executor, WorkflowBuilder, WorkflowContext, executor, handler
    >>> class Upper(Executor):
    ...     @handler
    ...     async def run(self, text: str, ctx: WorkflowContext[str]) -> None:
    ...         await ctx.send_message(text.upper())
    >>> @executor(id="reverse")
    ... async def reverse(text: str, ctx: WorkflowContext[None, str]) -> None:
    ...     await ctx.yield_output(text[::-1])
    >>> wf = (WorkflowBuilder(name="demo", start=Upper(id="upper"))
    ...       .add_edge("upper", reverse).build())
    >>> wf.run_sync("hello").outputs
    ['OLLEH']
"""

from agentic_nb.workflow import (
    Budget,
    Case,
    Default,
    Executor,
    ExecutorKind,
    Prices,
    RetryPolicy,
    Run,
    StepReport,
    Workflow,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowEvent,
    WorkflowExecutor,
    WorkflowResult,
    WorkflowValidationError,
    executor,
    handler,
)

__version__ = "0.1.0"

__all__ = [
    "Budget",
    "Case",
    "Default",
    "Executor",
    "ExecutorKind",
    "Prices",
    "RetryPolicy",
    "Run",
    "StepReport",
    "Workflow",
    "WorkflowBuilder",
    "WorkflowContext",
    "WorkflowEvent",
    "WorkflowExecutor",
    "WorkflowResult",
    "WorkflowValidationError",
    "__version__",
    "executor",
    "handler",
]
