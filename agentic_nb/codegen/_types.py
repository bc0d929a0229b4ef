"""Plain data of the code-generation flow: tasks, artifacts, diagnostics, results.

Every class here is a dataclass registered with the JSON codec, so it travels
through checkpoints, journals and NATS exactly like any other message.

Example::

    >>> from agentic_nb.workflow.codec import decode, encode
    >>> task = CodeTask("Add two numbers", constraints=["export function add"])
    >>> decode(encode(task)) == task
    True
    >>> art = CodeArtifact("impl", {"src/add.ts": "export const add = 1"}, producer="impl_gen")
    >>> CodeBundle(task, [art]).files
    {'src/add.ts': 'export const add = 1'}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agentic_nb.workflow.codec import register_checkpoint_type

Role = Literal["types", "impl", "tests"]
ROLES: tuple[Role, ...] = ("types", "impl", "tests")
LANGUAGES = ("typescript", "python")


@register_checkpoint_type
@dataclass
class CodeTask:
    """What to build.

    ``reference`` and ``acceptance_tests`` (``{path: text}``) are optional: only the
    simulated coder reads ``reference``, and benchmarks judge success with the hidden
    ``acceptance_tests``, never with the generated tests alone. ``name`` is a short
    identifier (used by the task library and in benchmark tables).
    """

    description: str
    language: str = "typescript"
    constraints: list[str] = field(default_factory=list)
    reference: dict[str, str] | None = None
    acceptance_tests: dict[str, str] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        # Accept tuples (the contract's default) and keep a list for JSON round trips.
        self.constraints = list(self.constraints)


@register_checkpoint_type
@dataclass
class CodeArtifact:
    """Files one generator produced for one role, at one attempt.

    ``problems`` lists what was wrong with the model's answer itself (no code found,
    a file outside the project...) as diagnostics; an artifact with no files and a
    problem is fed back to the generator, never a crash.
    """

    role: str
    files: dict[str, str]
    producer: str = ""
    attempt: int = 1
    problems: list[Diagnostic] = field(default_factory=list)


@register_checkpoint_type
@dataclass
class CodeBundle:
    """Everything the validators check: the task and the latest artifact of each role."""

    task: CodeTask
    artifacts: list[CodeArtifact]
    attempt: int = 1

    @property
    def files(self) -> dict[str, str]:
        """All files of all artifacts (later artifacts win on the same path)."""
        merged: dict[str, str] = {}
        for art in self.artifacts:
            merged.update(art.files)
        return merged

    def artifact(self, role: str) -> CodeArtifact | None:
        """The artifact of one role, or ``None``."""
        for art in self.artifacts:
            if art.role == role:
                return art
        return None


@register_checkpoint_type
@dataclass
class Diagnostic:
    """One problem reported by a tool (compiler, test runner, linter, extractor)."""

    tool: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    code: str | None = None
    fingerprint: str = ""
    severity: str = "error"

    def __str__(self) -> str:
        where = self.file or "?"
        if self.line is not None:
            where += f"({self.line},{self.column or 0})"
        code = f" {self.code}" if self.code else ""
        return f"{where}: {self.tool}{code}: {self.message}"


@register_checkpoint_type
@dataclass
class TestFailure:
    """One failing test: its full name, file and the runner's message."""

    __test__ = False  # not a pytest test class

    name: str
    message: str
    file: str | None = None
    fingerprint: str = ""


@register_checkpoint_type
@dataclass
class ValidationResult:
    """What one validator found. Conditional edges route on ``passed``.

    ``bundle`` is the code that was checked (so the next validator or the generator
    receiving feedback has it); ``reason`` says why a loop stopped early.
    """

    validator: str
    passed: bool
    diagnostics: list[Diagnostic] = field(default_factory=list)
    tests_passed: int = 0
    tests_failed: int = 0
    failures: list[TestFailure] = field(default_factory=list)
    duration: float = 0.0
    output_tail: str = ""
    bundle: CodeBundle | None = None
    attempt: int = 1
    reason: str = ""

    @property
    def fingerprints(self) -> list[str]:
        """Fingerprints of every diagnostic and failure, in order, without repeats."""
        seen: dict[str, None] = {}
        for d in self.diagnostics:
            if d.fingerprint:
                seen.setdefault(d.fingerprint, None)
        for f in self.failures:
            if f.fingerprint:
                seen.setdefault(f.fingerprint, None)
        return list(seen)


@register_checkpoint_type
@dataclass
class GeneratedProject:
    """The outcome: final files, the final validation and every validation on the way."""

    task: CodeTask
    files: dict[str, str]
    passed: bool
    validation: ValidationResult
    attempts: int
    history: list[ValidationResult] = field(default_factory=list)
    reason: str = ""
    #: Cost of the run: ``model_calls``, ``input_tokens``, ``output_tokens``, ``validator_runs``.
    stats: dict[str, int] = field(default_factory=dict)
