"""The old design, kept for comparison: one generator writes everything, then compile and
test, then retry with the errors — the *Executor → Validator → Retry* loop the
specification replaces.

Same toolchain, same validators, same client, same output type as
:func:`~agentic_nb.codegen.codegen_workflow`; only the shape differs: no separate
types and tests (the tests are written together with, and by the same call as, the
implementation), no routing of a failure to the role at fault, no early stop on a
repeated error — it retries until ``max_attempts``.

Example::

    >>> from agentic_nb.codegen import linear_codegen
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> [e.id for e in linear_codegen(ScriptedChatClient()).executors]
    ['task', 'coder', 'assembler', 'compile_val', 'feedback', 'test_val', 'finish']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentic_nb.workflow import Workflow, WorkflowBuilder

from ._flow import (
    FeedbackRouter,
    ProjectFinisher,
    Stop,
    TaskIntake,
    _check_common,
    _for_role,
    _is_failure,
    _is_success,
    _validators,
)
from ._generators import CodeAssembler, CodeGenerator
from ._types import CodeBundle

__all__ = ["linear_codegen"]


def linear_codegen(
    client: Any,
    language: str = "typescript",
    max_attempts: int = 4,
    *,
    sandbox: Any = None,
    toolchain: Any = None,
    checkpoint_storage: Any = None,
    validators: Sequence[Any] | None = None,
    name: str = "linear_codegen",
) -> Workflow:
    """One generator (role ``"all"``) → compile → test → retry with the errors.

    Input: a :class:`CodeTask`; output: a :class:`GeneratedProject`.
    """
    _check_common(client, language, max_attempts)
    compile_val, test_val = _validators(validators, language, toolchain, sandbox)
    coder = CodeGenerator("all", client, language=language)
    assembler = CodeAssembler(roles=("all",), depends={})
    retry = FeedbackRouter(max_attempts=max_attempts, repeat_limit=None, roles=("all",))
    finish = ProjectFinisher(generators=[coder.id], test_validator=test_val.id)
    return (
        WorkflowBuilder(
            name=name,
            start=TaskIntake(language),
            checkpoint_storage=checkpoint_storage,
            max_supersteps=10 + 8 * max_attempts,
            description="one generator, compile and test, retry with the errors",
        )
        .add_edge("task", coder)
        .add_edge(coder, assembler)
        .add_edge(assembler, compile_val, lambda m: isinstance(m, CodeBundle), "bundle")
        .add_edge(assembler, retry, _is_failure, "no usable code")
        .add_edge(compile_val, test_val, _is_success, "on_compile_success")
        .add_edge(compile_val, retry, _is_failure, "on_compile_failure")
        .add_edge(test_val, finish, _is_success, "on_test_success")
        .add_edge(test_val, retry, _is_failure, "on_test_failure")
        .add_edge(retry, coder, _for_role("all"), "retry with the errors")
        .add_edge(retry, finish, lambda m: isinstance(m, Stop), "stop")
        .build()
    )
