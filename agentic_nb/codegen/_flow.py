"""The specification's code-generation graph, and the control executors it needs.

``codegen_workflow`` builds "Flow Complet: Exemple TypeScript"::

    task ──┬─▶ type_gen ──┬─▶ impl_gen ──▶ assembler ──▶ compile_val ──▶ test_val ──▶ finish
           │              └────────────────▶ ▲   │             │ fail         │ fail     ▲
           └─▶ test_gen ─────────────────────┘   └─ no code ──▶ feedback ◀───┘          │
                  ▲                                              │  │  └─ stop ──────────┘
                  └──────────── the tests are wrong ─────────────┘  └─▶ impl_gen (fix)

``feedback`` (:class:`FeedbackRouter`) fingerprints every failure, decides who must
fix it (the implementation, or the tests when they do not compile or keep failing
after the implementation was changed for them), notices a fingerprint that keeps
coming back (stops with a reason, or asks a human with ``request_info`` when
``human_review=True``) and stops at ``max_attempts``. ``finish``
(:class:`ProjectFinisher`) yields the :class:`GeneratedProject`.

Everything a loop needs (history, what was sent to whom, the assembler's latest
artifacts) lives in the run's shared state, so a run checkpoints and resumes mid-loop.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agentic_nb.workflow import (
    Executor,
    ExecutorKind,
    Workflow,
    WorkflowBuilder,
    WorkflowContext,
    handler,
    register_checkpoint_type,
)

from ._arbiter import Arbiter
from ._fingerprint import ErrorFingerprinter
from ._generators import (
    TASK_KEY,
    USAGE_KEY,
    CodeAssembler,
    CodeGenerator,
    Feedback,
    feedback_lines,
)
from ._patterns import NatsPatternMemory, PatternMemory, learn_from
from ._types import LANGUAGES, CodeBundle, CodeTask, GeneratedProject, ValidationResult

__all__ = [
    "FeedbackRouter",
    "ProjectFinisher",
    "ReviewDecision",
    "ReviewRequest",
    "Stop",
    "TaskIntake",
    "as_pattern_memory",
    "codegen_workflow",
    "default_validators",
]

HISTORY_KEY = "codegen.history"
SENT_KEY = "codegen.sent"


@register_checkpoint_type
@dataclass
class Stop:
    """The loop gives up: ``reason`` says why; ``validation`` is the last failure."""

    reason: str
    validation: ValidationResult


@register_checkpoint_type
@dataclass
class ReviewRequest:
    """Asked of a human when a failure keeps coming back (``human_review=True``).

    Answer with a :class:`ReviewDecision`: ``"retry"`` (optionally with a hint for the
    generator, and ``role`` to choose who fixes it) or ``"stop"``.
    """

    attempt: int
    max_attempts: int
    role: str
    repeated: list[str]
    feedback: list[str]
    files: dict[str, str] = field(default_factory=dict)
    question: str = "The same error came back after a fix. Retry (with a hint) or stop?"


@register_checkpoint_type
@dataclass
class ReviewDecision:
    """A reviewer's answer: ``action`` is ``"retry"`` or ``"stop"``."""

    action: str = "retry"
    hint: str = ""
    role: str = ""

    def __post_init__(self) -> None:
        if self.action not in ("retry", "stop"):
            raise ValueError(
                f"ReviewDecision.action must be 'retry' or 'stop', not {self.action!r}"
            )


class TaskIntake(Executor):
    """Start of the flow: checks the :class:`CodeTask`, stores it, sends it on.

    A task with an empty description, or in another language than the workflow's,
    fails here with an error that says what to do.
    """

    kind = ExecutorKind.ORCHESTRATOR

    def __init__(self, language: str = "typescript", id: str = "task") -> None:
        super().__init__(id)
        self.language = language

    @handler
    async def run(self, task: CodeTask, ctx: WorkflowContext[CodeTask]) -> None:
        if not isinstance(task.description, str) or not task.description.strip():
            raise ValueError(
                f"{self.id}: the CodeTask has an empty description; say what to build, e.g. "
                f"CodeTask('Write a TypeScript state machine ...')"
            )
        if task.language != self.language:
            raise ValueError(
                f"{self.id}: the task is in {task.language!r} but this workflow generates "
                f"{self.language!r}; build it with language={task.language!r}"
            )
        await ctx.set_state(TASK_KEY, task)
        await ctx.send_message(task)


def _role_of(path: str | None, bundle: CodeBundle | None, default: str = "impl") -> str:
    if path and bundle is not None:
        norm = path.replace("\\", "/").lstrip("./")
        for art in bundle.artifacts:
            for p in art.files:
                if norm == p or norm.endswith("/" + p) or p.endswith("/" + norm):
                    return art.role
        for art in bundle.artifacts:
            stem = {p.rsplit(".", 1)[0] for p in art.files}
            if norm.rsplit(".", 1)[0] in stem:  # dist/tests/x.test.js → tests/x.test.ts
                return art.role
    if path and ("test" in path.rsplit("/", 1)[-1] or path.startswith("tests/")):
        return "tests" if default != "all" else "all"
    return default


def _streak(fp: str, history: Sequence[ValidationResult]) -> int:
    n = 0
    for r in reversed(history):
        if fp in r.fingerprints:
            n += 1
        else:
            break
    return n


TESTS_SUSPECT = (
    "these tests still fail after the implementation was changed to satisfy them: check each "
    "failing test against the task and the types; a test must not assert behaviour the task "
    "does not state"
)
TYPES_SUSPECT = (
    "these compile errors remain after the implementation was changed to fix them: the types "
    "may be wrong (a wrong type makes correct code fail); check each type against the task"
)


def _tried(sent: Sequence[dict[str, Any]], role: str) -> set[str]:
    """Fingerprints already sent to the generator of ``role``."""
    return set().union(*[set(s["fps"]) for s in sent if s["role"] == role] or [set()])


class FeedbackRouter(Executor):
    """Decides what a failed validation leads to: feedback to a generator, or a stop.

    - ``max_attempts`` bounds the validated attempts; reaching it stops with a reason.
    - A fingerprint failing ``repeat_limit`` times in a row (after feedback named it)
      escalates: first to the tests generator when it is a failing test the
      implementation could not fix (the test may contradict the task); then to a human
      (``request_info`` with a :class:`ReviewRequest`) when ``human_review``; else, once,
      to best-of-``escalate_best_of`` implementation candidates; when it still comes
      back the loop stops early with a reason naming the fingerprint.
      ``repeat_limit=None`` never stops early (the linear baseline).
    - ``roles`` are the generator roles present (``("all",)`` for one generator).
    """

    kind = ExecutorKind.ORCHESTRATOR

    def __init__(
        self,
        id: str = "feedback",
        *,
        max_attempts: int = 4,
        repeat_limit: int | None = 2,
        human_review: bool = False,
        roles: Sequence[str] = ("types", "impl", "tests"),
        pattern_memory: PatternMemory | None = None,
        escalate_best_of: int = 0,
    ) -> None:
        super().__init__(id)
        self.escalate_best_of = escalate_best_of
        if max_attempts < 1:
            raise ValueError(f"{id}: max_attempts must be >= 1, got {max_attempts}")
        if repeat_limit is not None and repeat_limit < 2:
            raise ValueError(f"{id}: repeat_limit must be >= 2 (or None), got {repeat_limit}")
        self.max_attempts = max_attempts
        self.repeat_limit = repeat_limit
        self.human_review = human_review
        self.roles = tuple(roles)
        self.pattern_memory = pattern_memory
        self.fingerprinter = ErrorFingerprinter()

    def culprit(self, result: ValidationResult, sent: Sequence[dict[str, Any]]) -> tuple[str, str]:
        """``(role, note)``: who should fix this failure, and why (for the prompt)."""
        if self.roles == ("all",):
            return "all", ""
        bundle = result.bundle
        if result.validator.startswith("assembler") and bundle is not None:
            for role in ("types", "tests", "impl"):
                art = bundle.artifact(role)
                if art is not None and any(p.severity == "error" for p in art.problems):
                    return role, "your previous answer had no usable code"
        errors = [d for d in result.diagnostics if d.severity == "error"]
        if errors:
            roles = {_role_of(d.file, bundle) for d in errors}
            if roles == {"tests"}:
                return "tests", "the tests do not compile against the types: fix the tests"
            if roles == {"types"}:
                return "types", "the types themselves do not compile"
            return "impl", ""
        failing = {f.fingerprint for f in result.failures if f.fingerprint}
        suspect = (failing & _tried(sent, "impl")) - _tried(sent, "tests")
        if suspect and "tests" in self.roles:
            return "tests", TESTS_SUSPECT
        return "impl", ""

    @handler
    async def on_result(
        self, result: ValidationResult, ctx: WorkflowContext[Feedback | Stop]
    ) -> None:
        self.fingerprinter.fill(result)
        history: list[ValidationResult] = list(ctx.get_state(HISTORY_KEY, []) or [])
        sent: list[dict[str, Any]] = list(ctx.get_state(SENT_KEY, []) or [])
        attempt = len(history) + 1
        result.attempt = attempt
        role, note = self.culprit(result, sent)
        repeated: list[str] = []
        if self.repeat_limit is not None:
            extract = {d.fingerprint for d in result.diagnostics if d.tool == "extract"}
            repeated = [
                fp
                for fp in result.fingerprints
                if fp not in extract and _streak(fp, history) + 1 >= self.repeat_limit
            ]
        stop: str = ""
        candidates = 1
        if attempt >= self.max_attempts:
            stop = (
                f"max_attempts={self.max_attempts} reached without passing; last failure "
                f"({result.validator}): {_summary(result)}"
            )
        elif repeated and note not in (TESTS_SUSPECT, TYPES_SUSPECT):
            if self.human_review:
                decision = await ctx.request_info(
                    ReviewRequest(
                        attempt,
                        self.max_attempts,
                        role,
                        repeated,
                        feedback_lines(result),
                        dict(result.bundle.files) if result.bundle else {},
                    ),
                    response_type=ReviewDecision,
                )
                if decision.action == "stop":
                    stop = f"stopped by the reviewer at attempt {attempt}: {decision.hint or '-'}"
                else:
                    role = decision.role or role
                    if role not in self.roles:
                        raise ValueError(
                            f"{self.id}: the reviewer chose role {role!r}; roles are {self.roles}"
                        )
                    note = f"a human reviewer says: {decision.hint}" if decision.hint else note
            elif (
                self.escalate_best_of > 1
                and role == "impl"
                and not any(
                    s.get("candidates", 1) > 1 and set(s["fps"]) & set(repeated) for s in sent
                )
            ):
                candidates = self.escalate_best_of
                note = (
                    f"this error came back after a fix: {candidates} candidates are generated "
                    f"and the best one is kept"
                )
            elif (
                role == "impl"
                and "types" in self.roles
                and any(d.severity == "error" for d in result.diagnostics)
                and not set(repeated) & _tried(sent, "types")
            ):
                # A wrong type makes correct code fail to compile and the compiler blames the
                # code: before giving up on an error the implementation could not fix, the
                # types are asked once to check themselves.
                role, note = "types", TYPES_SUSPECT
            else:
                first = next(
                    (str(d) for d in result.diagnostics if d.fingerprint == repeated[0]),
                    next((f.name for f in result.failures if f.fingerprint == repeated[0]), ""),
                )
                stop = (
                    f"stopped early at attempt {attempt} of {self.max_attempts}: the same error "
                    f"[fp:{repeated[0]}] failed {_streak(repeated[0], history) + 1} times in a "
                    f"row after feedback named it ({first[:200]})"
                )
        if self.pattern_memory is not None and history and sent:
            task = result.bundle.task.name if result.bundle else ""
            await learn_from(self.pattern_memory, history[-1], result, sent[-1]["role"], task=task)
        history.append(result)
        await ctx.set_state(HISTORY_KEY, history)
        if stop:
            result.reason = stop
            await ctx.send_message(Stop(stop, result))
            return
        sent.append(
            {"role": role, "fps": result.fingerprints, "attempt": attempt, "candidates": candidates}
        )
        await ctx.set_state(SENT_KEY, sent)
        await ctx.send_message(Feedback(role, result, attempt, note, candidates))


def _summary(result: ValidationResult) -> str:
    lines = feedback_lines(result, limit=3)
    return "; ".join(lines)[:400] or result.output_tail[-200:]


class ProjectFinisher(Executor):
    """End of the flow: yields the :class:`GeneratedProject` (passed or stopped).

    ``generators`` are the executor ids whose model usage is summed into ``stats``;
    ``test_validator`` is the id of the test validator (its results count two
    validator runs, the compile validation before it included).
    """

    kind = ExecutorKind.ORCHESTRATOR

    def __init__(
        self,
        id: str = "finish",
        *,
        generators: Sequence[str] = (),
        pattern_memory: PatternMemory | None = None,
        test_validator: str = "test_val",
    ) -> None:
        super().__init__(id)
        self.generators = tuple(generators)
        self.test_validator = test_validator
        self.pattern_memory = pattern_memory
        self.fingerprinter = ErrorFingerprinter()

    def _stats(self, ctx: WorkflowContext[Any, Any], history: list[ValidationResult]) -> dict:
        stats = {"model_calls": 0, "input_tokens": 0, "output_tokens": 0, "validator_runs": 0}
        for gid in self.generators:
            u = ctx.get_state(USAGE_KEY.format(executor=gid), {}) or {}
            stats["model_calls"] += int(u.get("calls", 0))
            stats["input_tokens"] += int(u.get("input_tokens", 0))
            stats["output_tokens"] += int(u.get("output_tokens", 0))
            stats["validator_runs"] += int(u.get("validator_runs", 0))
        for r in history:
            if r.validator.startswith("assembler"):
                continue
            # A test validation ran after a passing compile validation: two runs.
            stats["validator_runs"] += 2 if r.validator == self.test_validator else 1
        return stats

    @handler
    async def on_pass(
        self, result: ValidationResult, ctx: WorkflowContext[None, GeneratedProject]
    ) -> None:
        self.fingerprinter.fill(result)
        history: list[ValidationResult] = list(ctx.get_state(HISTORY_KEY, []) or [])
        sent: list[dict[str, Any]] = list(ctx.get_state(SENT_KEY, []) or [])
        if self.pattern_memory is not None and history and sent:
            task = result.bundle.task.name if result.bundle else ""
            await learn_from(self.pattern_memory, history[-1], result, sent[-1]["role"], task=task)
        result.attempt = len(history) + 1
        history.append(result)
        await ctx.set_state(HISTORY_KEY, history)
        await self._finish(result, history, "" if result.passed else result.reason, ctx)

    @handler
    async def on_stop(self, stop: Stop, ctx: WorkflowContext[None, GeneratedProject]) -> None:
        history: list[ValidationResult] = list(ctx.get_state(HISTORY_KEY, []) or [])
        await self._finish(stop.validation, history, stop.reason, ctx)

    async def _finish(
        self,
        result: ValidationResult,
        history: list[ValidationResult],
        reason: str,
        ctx: WorkflowContext[None, GeneratedProject],
    ) -> None:
        task = result.bundle.task if result.bundle else ctx.get_state(TASK_KEY)
        files = dict(result.bundle.files) if result.bundle else {}
        project = GeneratedProject(
            task,
            files,
            result.passed,
            result,
            attempts=len(history),
            history=history,
            reason=reason,
            stats=self._stats(ctx, history),
        )
        await ctx.yield_output(project)


def default_validators(language: str, toolchain: Any = None, sandbox: Any = None) -> list[Any]:
    """The compile and test validators of a language (the sandbox helper's executors)."""
    from ._validators import CompileValidator, TestValidator

    if toolchain is None:
        from ._toolchain import get_toolchain

        toolchain = get_toolchain(language)
    if sandbox is None:
        from ._sandbox import Sandbox

        sandbox = Sandbox()
    return [
        CompileValidator(id="compile_val", toolchain=toolchain, sandbox=sandbox),
        TestValidator(id="test_val", toolchain=toolchain, sandbox=sandbox),
    ]


def _is_failure(m: Any) -> bool:
    return isinstance(m, ValidationResult) and not m.passed


def _is_success(m: Any) -> bool:
    return isinstance(m, ValidationResult) and m.passed


def _for_role(role: str) -> Any:
    def pred(m: Any) -> bool:
        return isinstance(m, Feedback) and m.role == role

    return pred


def as_pattern_memory(value: Any) -> PatternMemory:
    """A :class:`PatternMemory` from ``None`` (a new in-memory one), a JSON file path, a
    NATS connection (:class:`NatsPatternMemory`) or a pattern memory itself.

    Example::

        >>> as_pattern_memory(None)
        PatternMemory(memory)
    """
    if value is None:
        return PatternMemory()
    if isinstance(value, PatternMemory):
        return value
    if isinstance(value, str | os.PathLike):
        return PatternMemory(value)
    if callable(getattr(value, "jetstream", None)):
        return NatsPatternMemory(value)
    raise TypeError(
        f"pattern_memory must be a PatternMemory, a JSON file path or a NATS connection, "
        f"got {type(value).__name__}"
    )


def _check_common(client: Any, language: str, max_attempts: int) -> None:
    if client is None:
        raise ValueError(
            "a chat client (or agent) is required: e.g. SimulatedCoder() offline, or "
            "OpenAIChatClient(...) / AnthropicChatClient(...)"
        )
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")


def codegen_workflow(
    task: CodeTask | None = None,
    client: Any = None,
    language: str = "typescript",
    max_attempts: int = 4,
    best_of: int = 1,
    human_review: bool = False,
    sandbox: Any = None,
    toolchain: Any = None,
    checkpoint_storage: Any = None,
    pattern_memory: Any = None,
    *,
    repeat_limit: int | None = 2,
    escalate_best_of: int = 3,
    validators: Sequence[Any] | None = None,
    name: str = "codegen",
) -> Workflow:
    """The specification's code-generation graph as a :class:`Workflow`.

    Input: a :class:`CodeTask`; output: a :class:`GeneratedProject`. ``task`` is
    optional (only its language is used here, when given). ``client`` is any chat
    client or agent (``SimulatedCoder()`` offline). ``best_of > 1`` replaces the
    implementation generator by an :class:`Arbiter` (N candidates per attempt).
    ``validators`` overrides the compile and test validators (default: the
    language's ``CompileValidator`` and ``TestValidator`` in ``sandbox``).
    ``pattern_memory`` is a :class:`PatternMemory`, a JSON file path or a NATS
    connection (default: a new in-memory one, shared by the runs of this workflow).
    ``repeat_limit`` is how many times in a row one fingerprint may fail before the
    loop escalates or stops (``None``: never early); ``escalate_best_of`` is the number
    of implementation candidates of the one escalation before stopping (``0``: none).

    Example::

        >>> from agentic_nb.codegen import codegen_workflow
        >>> from agentic_nb.llm import ScriptedChatClient
        >>> wf = codegen_workflow(client=ScriptedChatClient())
        >>> [e.id for e in wf.executors][:4]
        ['task', 'type_gen', 'test_gen', 'impl_gen']
    """
    if task is not None and isinstance(task, CodeTask):
        language = task.language
    elif task is not None:
        raise TypeError(f"codegen_workflow: task must be a CodeTask, got {type(task).__name__}")
    _check_common(client, language, max_attempts)
    if best_of < 1:
        raise ValueError(f"best_of must be >= 1, got {best_of}")
    compile_val, test_val = _validators(validators, language, toolchain, sandbox)
    pattern_memory = as_pattern_memory(pattern_memory)
    intake = TaskIntake(language)
    type_gen = CodeGenerator("types", client, language=language, pattern_memory=pattern_memory)
    test_gen = CodeGenerator("tests", client, language=language, pattern_memory=pattern_memory)
    impl_gen: CodeGenerator
    if best_of > 1 or escalate_best_of > 1:
        impl_gen = Arbiter(
            client,
            n=best_of,
            checks=[test_val.check],
            language=language,
            pattern_memory=pattern_memory,
        )
    else:
        impl_gen = CodeGenerator("impl", client, language=language, pattern_memory=pattern_memory)
    assembler = CodeAssembler()
    router = FeedbackRouter(
        max_attempts=max_attempts,
        repeat_limit=repeat_limit,
        human_review=human_review,
        pattern_memory=pattern_memory,
        escalate_best_of=escalate_best_of,
    )
    finish = ProjectFinisher(
        generators=[type_gen.id, test_gen.id, impl_gen.id],
        pattern_memory=pattern_memory,
        test_validator=test_val.id,
    )
    return (
        WorkflowBuilder(
            name=name,
            start=intake,
            checkpoint_storage=checkpoint_storage,
            max_supersteps=20 + 12 * max_attempts,
            description="TypeGen and TestGen in parallel, ImplGen from the types, "
            "assembler, compile then test validation, feedback loop",
        )
        .add_fan_out(intake, [type_gen, test_gen])
        .add_fan_out(type_gen, [impl_gen, assembler])
        .add_edge(test_gen, assembler)
        .add_edge(impl_gen, assembler)
        .add_edge(assembler, compile_val, lambda m: isinstance(m, CodeBundle), "bundle")
        .add_edge(assembler, router, _is_failure, "no usable code")
        .add_edge(compile_val, test_val, _is_success, "on_compile_success")
        .add_edge(compile_val, router, _is_failure, "on_compile_failure")
        .add_edge(test_val, finish, _is_success, "on_test_success")
        .add_edge(test_val, router, _is_failure, "on_test_failure")
        .add_edge(router, impl_gen, _for_role("impl"), "fix the implementation")
        .add_edge(router, test_gen, _for_role("tests"), "fix the tests")
        .add_edge(router, type_gen, _for_role("types"), "fix the types")
        .add_edge(router, finish, lambda m: isinstance(m, Stop), "stop")
        .build()
    )


def _validators(
    validators: Sequence[Any] | None, language: str, toolchain: Any, sandbox: Any
) -> tuple[Any, Any]:
    vals = (
        list(validators)
        if validators is not None
        else default_validators(language, toolchain, sandbox)
    )
    if len(vals) != 2:
        raise ValueError(
            f"validators must be (compile validator, test validator), got {len(vals)} items"
        )
    return vals[0], vals[1]
