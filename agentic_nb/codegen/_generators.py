"""Generator and assembler executors: a model writes files for one role; the assembler
joins the latest files of every role into a :class:`CodeBundle`.

The prompt a :class:`CodeGenerator` sends starts with machine-readable header lines
that the simulated coder parses and real models simply read::

    ROLE: impl
    TASK: state_machine
    LANGUAGE: typescript
    ATTEMPT: 2

then the task, the files to write, upstream artifacts (the types for the
implementation), its own previous files, fixes that worked before (pattern memory),
errors of earlier tries (``ctx.previous_errors``) and, last, a ``FEEDBACK:`` section
with one line per diagnostic or failing test, each ending in ``[fp:<fingerprint>]``.

Example::

    >>> from agentic_nb.codegen import CodeTask
    >>> from agentic_nb.llm import ScriptedChatClient
    >>> gen = CodeGenerator("impl", ScriptedChatClient(["```ts src/add.ts\\nexport {}\\n```"]))
    >>> gen.id
    'impl_gen'
    >>> print(build_prompt("impl", CodeTask("Add numbers", name="add")).splitlines()[:3])
    ['ROLE: impl', 'TASK: add', 'LANGUAGE: typescript']
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentic_nb.llm import ChatClient, ChatMessage, Usage
from agentic_nb.workflow import (
    Executor,
    ExecutorKind,
    RetryPolicy,
    WorkflowContext,
    handler,
    register_checkpoint_type,
)

from ._extract import default_path, extract_files, task_slug
from ._patterns import FixPattern, PatternMemory
from ._types import CodeArtifact, CodeBundle, CodeTask, Diagnostic, ValidationResult

__all__ = [
    "ROLE_IDS",
    "CodeAssembler",
    "CodeGenerator",
    "Feedback",
    "build_prompt",
    "feedback_lines",
]

#: Default executor ids of the generator roles (the specification's names).
ROLE_IDS = {"types": "type_gen", "impl": "impl_gen", "tests": "test_gen", "all": "coder"}

#: Shared-state keys the code-generation executors use (per run; part of checkpoints).
TASK_KEY = "codegen.task"
ARTIFACT_KEY = "codegen.artifact.{role}"
USAGE_KEY = "codegen.usage.{executor}"
ASSEMBLER_KEY = "codegen.assembler.{executor}"

_LANG_NAME = {"typescript": "TypeScript", "python": "Python"}

_INSTRUCTIONS = {
    "types": (
        "You write only the type definitions (interfaces, type aliases, enums) a task needs, "
        "in the types file, with no implementation. Export every name."
    ),
    "impl": (
        "You write the implementation of the task against the given types. Import the types "
        "from the types file; do not redefine or change them. Fix every error listed under "
        "FEEDBACK."
    ),
    "tests": (
        "You write unit tests of the task from its description and types only (you never see "
        "the implementation). Each test checks one behaviour the task states; never assume "
        "behaviour the task does not state."
    ),
    "all": (
        "You write the whole solution: the types file, the implementation and its unit tests. "
        "Fix every error listed under FEEDBACK."
    ),
}


@register_checkpoint_type
@dataclass
class Feedback:
    """A failed validation sent back to the generator of one role.

    ``note`` says why this role was chosen (e.g. the tests themselves look wrong) or
    carries a human reviewer's hint. ``candidates > 1`` asks a best-of-N step
    (:class:`~agentic_nb.codegen.Arbiter`) for that many candidates this time (the
    flow's escalation when an error came back after a fix).
    """

    role: str
    validation: ValidationResult
    attempt: int = 1
    note: str = ""
    candidates: int = 1


def _first_line(text: str, limit: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]


def _one_line(text: str, limit: int = 300) -> str:
    flat = re.sub(r"\s+", " ", re.sub(r"\x1b\[[0-9;]*m", "", text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def feedback_lines(result: ValidationResult, limit: int = 25) -> list[str]:
    """One line per diagnostic and failing test, each ending in ``[fp:<fingerprint>]``.

    Example::

        >>> from agentic_nb.codegen import Diagnostic, ValidationResult
        >>> r = ValidationResult("compile_val", False, [Diagnostic("tsc", "Bad.", "a.ts", 3, 1,
        ...                      "TS2322", fingerprint="ab12")])
        >>> feedback_lines(r)
        ['a.ts(3,1): tsc TS2322: Bad. [fp:ab12]']
    """
    lines: list[str] = []
    for d in result.diagnostics:
        if d.severity != "error":
            continue
        lines.append(f"{_one_line(str(d))} [fp:{d.fingerprint or '-'}]")
    for f in result.failures:
        where = f"{f.file}: " if f.file else ""
        lines.append(
            f'{where}test "{_one_line(f.name, 160)}" failed: {_one_line(f.message)} '
            f"[fp:{f.fingerprint or '-'}]"
        )
    if not lines and not result.passed:
        tail = _one_line(result.reason or result.output_tail or "no details", 400)
        lines.append(f"{result.validator} failed: {tail} [fp:-]")
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
    return lines


def _fence(language: str) -> str:
    return "python" if language == "python" else "ts"


def _files_block(files: Mapping[str, str], language: str) -> str:
    return "\n\n".join(
        f"```{_fence(language)} {path}\n{text.rstrip()}\n```" for path, text in files.items()
    )


def _targets(role: str, language: str, name: str) -> list[str]:
    if role == "all":
        return [default_path(r, language, name) for r in ("types", "impl", "tests")]
    return [default_path(role, language, name)]


def build_prompt(
    role: str,
    task: CodeTask,
    *,
    language: str | None = None,
    attempt: int = 1,
    upstream: Mapping[str, CodeArtifact] | None = None,
    previous: CodeArtifact | None = None,
    feedback: Feedback | None = None,
    patterns: Sequence[FixPattern] = (),
    failed_patterns: Sequence[FixPattern] = (),
    previous_errors: Sequence[str] = (),
    candidate: tuple[int, int] | None = None,
) -> str:
    """The user message of a generator (header lines, context, then ``FEEDBACK:``).

    ``candidate=(i, n)`` adds a ``CANDIDATE: i/n`` header line (best-of-N).
    """
    lang = language or task.language
    name = task.name or task_slug(task.description)
    parts = [
        f"ROLE: {role}",
        f"TASK: {task.name or _first_line(task.description)}",
        f"LANGUAGE: {lang}",
        f"ATTEMPT: {attempt}",
        *([f"CANDIDATE: {candidate[0]}/{candidate[1]}"] if candidate else []),
        "",
        "Task:",
        task.description.strip(),
    ]
    if task.constraints:
        parts += ["", "Constraints:", *(f"- {c}" for c in task.constraints)]
    targets = _targets(role, lang, name)
    parts += [
        "",
        f"Write {_LANG_NAME.get(lang, lang)} code: " + ", ".join(targets) + ".",
        "Answer with one fenced code block per file, the file's path in the fence header, "
        f"e.g. ```{_fence(lang)} {targets[0]}",
    ]
    for up_role, art in (upstream or {}).items():
        if art.files:
            label = {"types": "Types", "tests": "Tests the code must pass"}.get(up_role, up_role)
            parts += ["", f"{label} (written by {art.producer or up_role}; do not rewrite them):"]
            parts.append(_files_block(art.files, lang))
    if previous is not None and previous.files:
        parts += ["", "Your previous answer:", _files_block(previous.files, lang)]
    if patterns:
        parts += ["", "Fixes that worked before for the same kind of error:"]
        parts += [p.describe() for p in patterns]
    if failed_patterns:
        parts += ["", "Changes that did NOT fix these errors before (do something else):"]
        parts += [p.describe(300) for p in failed_patterns]
    if previous_errors:
        parts += ["", "Errors of earlier tries of this step:", *(f"- {e}" for e in previous_errors)]
    if feedback is not None:
        if feedback.note:
            parts += ["", f"NOTE: {feedback.note}"]
        parts += ["", "FEEDBACK:", *feedback_lines(feedback.validation)]
    return "\n".join(parts) + "\n"


@dataclass
class Generation:
    """What one model call produced: the artifact, the answer's text and token usage."""

    artifact: CodeArtifact
    text: str
    usage: Usage = field(default_factory=Usage)
    prompt: str = ""


class CodeGenerator(Executor):
    """A worker that asks a model (a chat client or an agent) to write one role's files.

    ``role`` is ``"types"``, ``"impl"``, ``"tests"`` (or ``"all"`` for a single
    generator writing everything). It starts from a :class:`CodeTask`, from an upstream
    :class:`CodeArtifact` (the implementation waits for the types) or from
    :class:`Feedback`; it sends a :class:`CodeArtifact`. An answer with no code gives
    an artifact with no files and a ``problems`` diagnostic — never an exception.
    ``pattern_memory`` supplies fixes that worked before.

    Example::

        >>> import asyncio
        >>> from agentic_nb.codegen import CodeTask
        >>> from agentic_nb.llm import ScriptedChatClient
        >>> answer = "```ts\\nexport type N = number;\\n```"
        >>> gen = CodeGenerator("types", ScriptedChatClient([answer]))
        >>> out = asyncio.run(gen.produce(CodeTask("numbers", name="num")))
        >>> out.artifact.files
        {'src/types.ts': 'export type N = number;\\n'}
    """

    kind = ExecutorKind.WORKER

    def __init__(
        self,
        role: str,
        agent_or_client: Any,
        id: str | None = None,
        *,
        instructions: str | None = None,
        language: str = "typescript",
        pattern_memory: PatternMemory | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> None:
        if role not in _INSTRUCTIONS:
            raise ValueError(
                f"CodeGenerator role must be one of {sorted(_INSTRUCTIONS)}, got {role!r}"
            )
        super().__init__(id or ROLE_IDS[role], retry=retry, timeout=timeout)
        if not isinstance(agent_or_client, ChatClient) and not callable(
            getattr(agent_or_client, "run", None)
        ):
            raise TypeError(
                f"CodeGenerator {self.id!r}: give a chat client (agentic_nb.llm) or an agent "
                f"(with an async run()), got {type(agent_or_client).__name__}"
            )
        self.role = role
        self.model = agent_or_client
        self.language = language
        self.instructions = instructions or _INSTRUCTIONS[role]
        self.pattern_memory = pattern_memory

    # ------------------------------------------------------------ the model call
    async def _call(self, prompt: str) -> tuple[str, Usage]:
        if isinstance(self.model, ChatClient):
            messages = [ChatMessage.system(self.instructions), ChatMessage.user(prompt)]
            resp = await self.model.get_response(messages)
            return resp.text, resp.usage
        answer = await self.model.run(f"{self.instructions}\n\n{prompt}")
        usage = getattr(answer, "usage", None)
        return str(getattr(answer, "text", answer)), usage if isinstance(usage, Usage) else Usage()

    async def _patterns(self, feedback: Feedback | None) -> tuple[list[FixPattern], ...]:
        if self.pattern_memory is None or feedback is None:
            return [], []
        v = feedback.validation
        fps = v.fingerprints
        codes = [(d.tool, d.code or "") for d in v.diagnostics]
        good = await self.pattern_memory.relevant(self.role, fps, codes)
        bad = await self.pattern_memory.relevant(self.role, fps, (), outcome="failure")
        return good, bad

    async def produce(
        self,
        task: CodeTask,
        *,
        upstream: Mapping[str, CodeArtifact] | None = None,
        previous: CodeArtifact | None = None,
        feedback: Feedback | None = None,
        previous_errors: Sequence[str] = (),
        attempt: int = 1,
        candidate: tuple[int, int] | None = None,
    ) -> Generation:
        """Ask the model once and extract the files (usable outside a workflow too)."""
        good, bad = await self._patterns(feedback)
        prompt = build_prompt(
            self.role,
            task,
            language=self.language,
            attempt=attempt,
            upstream=upstream,
            previous=previous,
            feedback=feedback,
            patterns=good,
            failed_patterns=bad,
            previous_errors=previous_errors,
            candidate=candidate,
        )
        text, usage = await self._call(prompt)
        name = task.name or task_slug(task.description)
        out = extract_files(
            text, role=self.role, language=self.language, task_name=name, producer=self.id
        )
        files = out.files
        problems = list(out.problems)
        owned = {p for art in (upstream or {}).values() for p in art.files}
        for path in [p for p in files if p in owned]:
            del files[path]
            problems.append(
                Diagnostic(
                    "extract",
                    f"{self.id}: ignored {path}: it belongs to another generator",
                    file=path,
                    code="foreign-file",
                    severity="warning",
                )
            )
        if not files and not any(p.severity == "error" for p in problems):
            problems.append(
                Diagnostic(
                    "extract",
                    f"{self.id}: the answer only rewrote files of other generators; write "
                    + ", ".join(_targets(self.role, self.language, name)),
                    code="no-code",
                )
            )
        art = CodeArtifact(self.role, files, producer=self.id, attempt=attempt, problems=problems)
        return Generation(art, text, usage, prompt)

    # ------------------------------------------------------------ workflow glue
    def _upstream(self, ctx: WorkflowContext[Any, Any], feedback: bool) -> dict[str, CodeArtifact]:
        wanted: tuple[str, ...] = ()
        if self.role == "impl":
            wanted = ("types", "tests") if feedback else ("types",)
        elif self.role == "tests":
            wanted = ("types",)
        out: dict[str, CodeArtifact] = {}
        for role in wanted:
            art = ctx.get_state(ARTIFACT_KEY.format(role=role))
            if isinstance(art, CodeArtifact) and art.files:
                out[role] = art
        return out

    async def _run(
        self,
        task: CodeTask,
        ctx: WorkflowContext[CodeArtifact, Any],
        *,
        upstream: dict[str, CodeArtifact],
        feedback: Feedback | None = None,
    ) -> None:
        key = f"codegen.attempts.{self.id}"
        attempt = int(ctx.get_state(key, 0)) + 1
        previous = None
        if feedback is not None and feedback.validation.bundle is not None:
            previous = feedback.validation.bundle.artifact(self.role)
        if previous is None:
            prev = ctx.get_state(ARTIFACT_KEY.format(role=self.role))
            previous = prev if isinstance(prev, CodeArtifact) else None
        errors = [str(e) for e in ctx.previous_errors]
        gen = await self.produce(
            task,
            upstream=upstream,
            previous=previous if feedback is not None else None,
            feedback=feedback,
            previous_errors=errors,
            attempt=attempt,
        )
        await record_usage(ctx, self.id, gen.usage)
        await ctx.set_state(key, attempt)
        await ctx.set_state(ARTIFACT_KEY.format(role=self.role), gen.artifact)
        await ctx.send_message(gen.artifact)

    @handler
    async def on_task(self, task: CodeTask, ctx: WorkflowContext[CodeArtifact]) -> None:
        """First generation, straight from the task."""
        await self._run(task, ctx, upstream=self._upstream(ctx, False))

    @handler
    async def on_upstream(self, art: CodeArtifact, ctx: WorkflowContext[CodeArtifact]) -> None:
        """Generation from an upstream artifact (the implementation from the types)."""
        task = ctx.get_state(TASK_KEY)
        if not isinstance(task, CodeTask):
            raise RuntimeError(
                f"{self.id}: no task in shared state {TASK_KEY!r}; start the workflow with "
                f"a CodeTask (codegen_workflow does) before sending artifacts"
            )
        upstream = self._upstream(ctx, False)
        upstream[art.role] = art
        await self._run(task, ctx, upstream=upstream)

    @handler
    async def on_feedback(self, fb: Feedback, ctx: WorkflowContext[CodeArtifact]) -> None:
        """A new attempt with the failed validation's diagnostics in the prompt."""
        bundle = fb.validation.bundle
        task = bundle.task if bundle is not None else ctx.get_state(TASK_KEY)
        if not isinstance(task, CodeTask):
            raise RuntimeError(f"{self.id}: feedback without a bundle and no task in state")
        await self._run(task, ctx, upstream=self._upstream(ctx, True), feedback=fb)


async def record_usage(
    ctx: WorkflowContext[Any, Any], executor: str, usage: Usage, *, calls: int = 1
) -> None:
    """Add one model call's tokens to the run's shared state (``codegen.usage.<id>``)."""
    key = USAGE_KEY.format(executor=executor)
    cur = dict(ctx.get_state(key, {}) or {})
    cur["calls"] = int(cur.get("calls", 0)) + calls
    cur["input_tokens"] = int(cur.get("input_tokens", 0)) + max(0, usage.input_tokens)
    cur["output_tokens"] = int(cur.get("output_tokens", 0)) + max(0, usage.output_tokens)
    await ctx.set_state(key, cur)


class CodeAssembler(Executor):
    """Fan-in of the generators: keeps the latest artifact of each role, sends a
    :class:`CodeBundle` when every role is there and none is stale.

    It works across feedback loops (only the implementation comes back, the types and
    tests are kept). A new ``types`` artifact makes the implementation stale until a
    new one arrives (the implementation is written against the types). Artifacts
    whose answer had no usable code do not reach the validators: the assembler sends
    a failed :class:`ValidationResult` (validator ``"assembler"``) with the problems
    instead, so the flow feeds them back. Its memory lives in the run's shared state,
    so it is checkpointed and resumes.

    Example::

        >>> CodeAssembler().id, CodeAssembler(roles=("impl",)).roles
        ('assembler', ('impl',))
    """

    kind = ExecutorKind.WORKER

    def __init__(
        self,
        id: str = "assembler",
        *,
        roles: Sequence[str] = ("types", "impl", "tests"),
        depends: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(id)
        self.roles = tuple(roles)
        self.depends = {k: tuple(v) for k, v in (depends or {"impl": ("types",)}).items()}

    @handler
    async def on_artifact(
        self, art: CodeArtifact, ctx: WorkflowContext[CodeBundle | ValidationResult]
    ) -> None:
        key = ASSEMBLER_KEY.format(executor=self.id)
        state = dict(ctx.get_state(key, {}) or {})
        latest: dict[str, CodeArtifact] = dict(state.get("latest", {}))
        stale = set(state.get("stale", []))
        bundles = int(state.get("bundles", 0))
        if art.role not in self.roles:
            raise ValueError(
                f"{self.id}: got a {art.role!r} artifact from {art.producer!r}; "
                f"this assembler joins {self.roles}"
            )
        latest[art.role] = art
        stale.discard(art.role)
        for dependent, needs in self.depends.items():
            if art.role in needs and dependent in latest and dependent in self.roles:
                stale.add(dependent)
        ready = all(r in latest for r in self.roles) and not stale
        if ready:
            bundles += 1
        await ctx.set_state(key, {"latest": latest, "stale": sorted(stale), "bundles": bundles})
        if not ready:
            return
        task = ctx.get_state(TASK_KEY)
        if not isinstance(task, CodeTask):
            raise RuntimeError(f"{self.id}: no task in shared state {TASK_KEY!r}")
        bundle = CodeBundle(task, [latest[r] for r in self.roles], attempt=bundles)
        problems = [p for r in self.roles for p in latest[r].problems if p.severity == "error"]
        if problems:
            await ctx.send_message(
                ValidationResult(
                    self.id,
                    False,
                    diagnostics=problems,
                    bundle=bundle,
                    attempt=bundles,
                    reason="a generator's answer had no usable code",
                )
            )
            return
        await ctx.send_message(bundle)
