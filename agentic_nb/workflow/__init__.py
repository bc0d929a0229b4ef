"""The workflow layer: executors, edges, builder, runner and events.

Example::

    >>> from agentic_nb.workflow import WorkflowBuilder, WorkflowContext, executor
    >>> @executor
    ... def hello(name: str, ctx: WorkflowContext[None, str]) -> None:
    ...     ctx.yield_output(f"hello {name}")
    >>> WorkflowBuilder(start=hello).build().run_sync("you").outputs
    ['hello you']
"""

from ._budget import Budget
from ._builder import WorkflowBuilder, WorkflowBuilderWarning
from ._checkpoint import (
    DEFAULT_KEEP_LAST,
    Checkpoint,
    CheckpointInfo,
    CheckpointStorage,
    InMemoryCheckpointStorage,
    RunSummary,
)
from ._checkpoint_errors import CheckpointCorruptError, CheckpointError, GraphMismatchError
from ._context import Attempt, ExecutorError, WorkflowContext
from ._edges import Case, Default, DirectEdge, EdgeGroup, FanInEdge, FanOutEdge, SwitchEdge
from ._errors import (
    ExecutorTimeout,
    RequestError,
    RoutingError,
    RunStateError,
    WorkflowError,
    WorkflowValidationError,
)
from ._events import (
    AgentRunUpdate,
    CheckpointSaved,
    Custom,
    EventLog,
    ExecutorCompleted,
    ExecutorFailed,
    ExecutorInvoked,
    FanInWaiting,
    Log,
    MessageSent,
    MessageUndelivered,
    Output,
    RequestAnswered,
    RequestInfo,
    SuperstepCompleted,
    SuperstepStarted,
    WorkflowCompleted,
    WorkflowEvent,
    WorkflowFailed,
    WorkflowResumed,
    WorkflowStarted,
    WorkflowWaiting,
)
from ._executor import Executor, ExecutorKind, FunctionExecutor, RetryPolicy, executor, handler
from ._file_storage import FileCheckpointStorage
from ._lease import AnswerConflictError, Lease, LeaseLostError, RunLockedError
from ._result import PendingRequestInfo, QueuedMessage, StepReport, WorkflowResult
from ._runner import Run, WorkflowCancelled
from ._subworkflow import SubWorkflowError, SubWorkflowResult, WorkflowExecutor
from ._usage import Prices, RunUsage
from ._workflow import Workflow
from .codec import CodecError, register_checkpoint_type

__all__ = [
    "DEFAULT_KEEP_LAST",
    "AgentRunUpdate",
    "AnswerConflictError",
    "Attempt",
    "Budget",
    "Case",
    "Checkpoint",
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointInfo",
    "CheckpointSaved",
    "CheckpointStorage",
    "CodecError",
    "Custom",
    "Default",
    "DirectEdge",
    "EdgeGroup",
    "EventLog",
    "Executor",
    "ExecutorCompleted",
    "ExecutorError",
    "ExecutorFailed",
    "ExecutorInvoked",
    "ExecutorKind",
    "ExecutorTimeout",
    "FanInEdge",
    "FanInWaiting",
    "FanOutEdge",
    "FileCheckpointStorage",
    "FunctionExecutor",
    "GraphMismatchError",
    "InMemoryCheckpointStorage",
    "Lease",
    "LeaseLostError",
    "Log",
    "MessageSent",
    "MessageUndelivered",
    "Output",
    "PendingRequestInfo",
    "Prices",
    "QueuedMessage",
    "RequestAnswered",
    "RequestError",
    "RequestInfo",
    "RetryPolicy",
    "RoutingError",
    "Run",
    "RunLockedError",
    "RunStateError",
    "RunSummary",
    "RunUsage",
    "StepReport",
    "SubWorkflowError",
    "SubWorkflowResult",
    "SuperstepCompleted",
    "SuperstepStarted",
    "SwitchEdge",
    "Workflow",
    "WorkflowBuilder",
    "WorkflowBuilderWarning",
    "WorkflowCancelled",
    "WorkflowCompleted",
    "WorkflowContext",
    "WorkflowError",
    "WorkflowEvent",
    "WorkflowExecutor",
    "WorkflowFailed",
    "WorkflowResult",
    "WorkflowResumed",
    "WorkflowStarted",
    "WorkflowValidationError",
    "WorkflowWaiting",
    "executor",
    "handler",
    "register_checkpoint_type",
]
